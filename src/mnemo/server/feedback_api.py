"""Feedback by message id (REST and /v1), the list of judgements, and cache statistics.

Every answer the server gives carries a ``message_id`` (``mnemo.message_id`` in
/v1 responses, whose ``id`` is ``chatcmpl-<message id>`` when not streamed);
``POST /feedback`` or ``POST /v1/feedback`` judges it. A correction sent with
``save_note`` becomes a note of the collection, indexed, so later answers can
cite it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator

from mnemo.server import audit, schemas
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES

router = APIRouter(tags=["feedback"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]


class Judgement(schemas.RequestBody):
    message_id: str = Field(min_length=3, max_length=80, description="The answer's message id.")
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = Field(None, ge=1, le=5)
    correction: str | None = Field(None, max_length=10000)
    save_note: bool = Field(
        False, description="Keep the correction as a note of the collection (indexed)."
    )

    @model_validator(mode="after")
    def _says_something(self) -> Judgement:
        if self.thumbs is None and self.rating is None and not self.correction:
            raise ValueError("give thumbs, rating or correction")
        if self.save_note and not self.correction:
            raise ValueError("save_note needs a correction")
        return self


class JudgementOut(schemas.FeedbackOut):
    message_id: str
    note: str | None = Field(None, description="The note the correction was saved as.")


class FeedbackEntryOut(BaseModel):
    id: int
    message_id: str
    collection: str
    question: str
    answer: str
    kind: str
    thumbs: str | None
    rating: int | None
    correction: str | None
    bad: bool
    created_at: schemas.Timestamp


class CacheStatsOut(BaseModel):
    entries: int
    exact: int
    semantic: int
    misses: int
    hit_rate: float
    saved_seconds: float


def _judge(request: Request, body: Judgement, principal: Principal) -> JudgementOut:
    saved, note = request.app.state.library.judge(
        body.message_id,
        thumbs=body.thumbs,
        rating=body.rating,
        correction=body.correction,
        save_note=body.save_note,
        key_id=principal.key_id,
    )
    audit.record(request, principal, "feedback.create", body.message_id, 201)
    request.app.state.metrics.observe_feedback(body.thumbs, body.rating, body.correction)
    return JudgementOut(**vars(saved), message_id=body.message_id, note=str(note) if note else None)


@router.post("/feedback", status_code=201, response_model=JudgementOut)
def judge(request: Request, body: Judgement, principal: Writer) -> JudgementOut:
    """Judge an answer by its message id: thumbs, a rating from 1 to 5, a correction."""
    return _judge(request, body, principal)


@router.post("/v1/feedback", status_code=201, response_model=JudgementOut, tags=["openai"])
def judge_v1(request: Request, body: Judgement, principal: Writer) -> JudgementOut:
    """As POST /feedback, for OpenAI-compatible clients: the message id is the completion's
    ``id`` (with or without ``chatcmpl-``) or its ``mnemo.message_id``."""
    return _judge(request, body, principal)


@router.get("/feedback", response_model=list[FeedbackEntryOut])
def list_feedback(
    request: Request,
    _: Reader,
    collection: Annotated[str | None, Query(max_length=64)] = None,
) -> list[FeedbackEntryOut]:
    """Every judgement, oldest first, with the question and answer it judges."""
    found = request.app.state.library.feedback_entries(collection=collection)
    return [FeedbackEntryOut(**vars(e), bad=e.bad) for e in found]


@router.get("/cache/stats", response_model=CacheStatsOut)
def cache_stats(
    request: Request,
    _: Reader,
    collection: Annotated[str | None, Query(max_length=64)] = None,
) -> CacheStatsOut:
    """Cached answers, hits (exact and rephrased), misses and the answering time saved."""
    found = request.app.state.library.cache_stats(collection=collection)
    return CacheStatsOut(**vars(found), hit_rate=found.hit_rate)

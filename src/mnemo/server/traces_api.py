"""Traces over REST: the latest traces, one as a tree of spans, and answer drift.

Traces hold the questions people asked (with PII masked as ``guard.pii`` masked it
in the files: this reads the files, it unmasks nothing), so every route needs an
admin key, as the audit log does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES

router = APIRouter(tags=["traces"], responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(require("admin"))]


class TraceOut(BaseModel):
    trace_id: str
    name: str = Field(description="What it was: ask, search, ingest...")
    started: datetime
    milliseconds: float
    spans: int
    attributes: dict[str, Any] = Field(description="The root span's attributes.")


class SpanOut(BaseModel):
    name: str
    span_id: str
    start_ns: int
    milliseconds: float
    status: str
    attributes: dict[str, Any]
    children: list[SpanOut] = Field(description="Child spans, in start order.")


class DriftWindowOut(BaseModel):
    answers: int
    mean_relevance: float | None
    abstention_rate: float
    embedders: list[str]


class DriftOut(BaseModel):
    scale: str = Field(description="The relevance scale: rerank or dense.")
    window: int = Field(description="Answers per window (traces.drift_window).")
    recent: DriftWindowOut | None
    earlier: DriftWindowOut | None = Field(description="null until two windows are on file.")
    warnings: list[str]


@router.get("/traces", response_model=list[TraceOut])
def list_traces(
    request: Request,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    name: Annotated[
        str | None, Query(max_length=40, description="Only these: ask, search, ingest.")
    ] = None,
) -> list[TraceOut]:
    """The latest traces (asks, searches, ingestion runs), newest first."""
    found = request.app.state.library.traces(limit=limit, name=name)
    return [TraceOut.model_validate(t, from_attributes=True) for t in found]


@router.get("/traces/drift", response_model=list[DriftOut])
def drift(request: Request, _: Admin) -> list[DriftOut]:
    """Best-passage relevance and abstentions of the latest answers against the window
    before, per relevance scale, with a warning for each that moved."""
    return [
        DriftOut.model_validate(r, from_attributes=True) for r in request.app.state.library.drift()
    ]


@router.get("/traces/{trace_id}", response_model=SpanOut)
def show_trace(
    request: Request,
    trace_id: Annotated[
        str, Path(pattern=r"^[0-9a-fA-F]{4,32}$", description="An id or its start.")
    ],
    _: Admin,
) -> SpanOut:
    """One trace as its root span, with the spans below it, their times and attributes."""
    root = request.app.state.library.trace(trace_id)
    return span_out(root)


def span_out(node: Any) -> SpanOut:
    return SpanOut(
        name=node.name,
        span_id=node.span_id,
        start_ns=node.start_ns,
        milliseconds=node.milliseconds,
        status=node.status,
        attributes=node.attributes,
        children=[span_out(c) for c in sorted(node.children, key=lambda c: c.start_ns)],
    )

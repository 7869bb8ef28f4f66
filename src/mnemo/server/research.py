"""Research mode and long-term memory over REST.

``POST /collections/{c}/research`` answers with the plan's parts, the trace and a
checked answer; with ``stream``, server-sent events: one ``step`` per traced step
as it happens, then ``answer`` (or ``error``). ``/collections/{c}/memory`` lists,
adds, edits and forgets what is remembered. Memory is scoped to the calling key:
a key never reads or forgets another key's memories.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mnemo.agents.types import ResearchAnswer, ResearchEvent
from mnemo.catalog.memory import MemoryInfo
from mnemo.server import audit
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES
from mnemo.server.queries import CollectionPath, answer_out
from mnemo.server.schemas import AnswerOut, RequestBody
from mnemo.server.streaming import answer_events, error_payload

router = APIRouter(tags=["research"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
MemoryId = Annotated[int, Path(ge=1, le=2**62)]


class ResearchRequest(RequestBody):
    question: str = Field("", max_length=20_000)
    extractive: bool = Field(False, description="Answer without the language model.")
    stream: bool = Field(False, description="Server-sent events: step..., then answer.")
    resume: str | None = Field(None, max_length=64, description="Resume this run id.")


class MemoryIn(RequestBody):
    text: str = Field(min_length=1, max_length=1000)


class MemoryOut(BaseModel):
    id: int
    collection: str
    text: str
    said_in: str
    created_at: datetime
    updated_at: datetime


class PartOut(BaseModel):
    question: str
    answered: bool
    tools: list[str]
    passages: int


class StepOut(BaseModel):
    kind: str
    message: str
    data: dict[str, Any]
    seconds: float


class ResearchOut(BaseModel):
    run_id: str
    answer: AnswerOut
    parts: list[PartOut]
    unanswered: list[str]
    memories: list[MemoryOut] = Field(description="Recalled memories, cited as [M1], [M2].")
    remembered: MemoryOut | None = Field(description="What this question asked to remember.")
    trace: list[StepOut]
    stopped: str | None
    interrupted: bool


def _memory(info: MemoryInfo) -> MemoryOut:
    return MemoryOut(**asdict(info))


def research_out(result: ResearchAnswer) -> ResearchOut:
    return ResearchOut(
        run_id=result.run_id,
        answer=answer_out(result.answer),
        parts=[PartOut(**asdict(p)) for p in result.parts],
        unanswered=result.unanswered,
        memories=[_memory(m) for m in result.memories],
        remembered=_memory(result.remembered) if result.remembered else None,
        trace=[StepOut(**asdict(e)) for e in result.trace],
        stopped=result.stopped,
        interrupted=result.interrupted,
    )


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("/collections/{collection}/research", response_model=None)
async def research(
    request: Request, collection: CollectionPath, body: ResearchRequest, principal: Reader
) -> ResearchOut | StreamingResponse:
    """Plan, search for each part, grade, write and check an answer (research mode)."""
    library = request.app.state.library

    def run(on_step: Callable[[str], None] | None = None) -> ResearchAnswer:
        def send(event: ResearchEvent) -> None:
            if on_step is not None:
                on_step(json.dumps(asdict(event), default=str))

        return library.research(  # type: ignore[no-any-return]
            body.question if body.resume is None else None,
            collection=collection,
            use_llm=False if body.extractive else None,
            key_id=principal.key_id,
            on_event=send,
            run_id=body.resume,
        )

    if not body.stream:
        return research_out(await run_in_threadpool(run))
    await run_in_threadpool(library.collection, collection)  # 404 up front

    async def events() -> AsyncIterator[str]:
        async for kind, value in answer_events(run):  # type: ignore[arg-type]
            if kind == "token":
                yield _sse("step", json.loads(value))  # type: ignore[arg-type]
            elif kind == "answer":
                out = research_out(value)  # type: ignore[arg-type]
                yield _sse("answer", out.model_dump(mode="json"))
            else:
                yield _sse("error", error_payload(value))  # type: ignore[arg-type]

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/collections/{collection}/memory", response_model=list[MemoryOut])
def list_memory(request: Request, collection: CollectionPath, principal: Reader) -> list[MemoryOut]:
    """What is remembered in this collection for the calling key."""
    found = request.app.state.library.memories(collection=collection, key_id=principal.key_id)
    return [_memory(m) for m in found]


@router.post("/collections/{collection}/memory", status_code=201, response_model=MemoryOut)
def add_memory(
    request: Request, collection: CollectionPath, body: MemoryIn, principal: Writer
) -> MemoryOut:
    """Remember a fact or preference (shown back: nothing is remembered silently)."""
    info = request.app.state.library.remember(
        body.text, collection=collection, key_id=principal.key_id, said_in="api"
    )
    audit.record(request, principal, "memory.add", str(info.id), 201)
    return _memory(info)


@router.patch("/collections/{collection}/memory/{memory_id}", response_model=MemoryOut)
def edit_memory(
    request: Request,
    collection: CollectionPath,
    memory_id: MemoryId,
    body: MemoryIn,
    principal: Writer,
) -> MemoryOut:
    """Change what a memory says."""
    info = request.app.state.library.edit_memory(
        memory_id, body.text, collection=collection, key_id=principal.key_id
    )
    audit.record(request, principal, "memory.edit", str(memory_id), 200)
    return _memory(info)


@router.delete("/collections/{collection}/memory/{memory_id}", response_model=MemoryOut)
def forget_memory(
    request: Request, collection: CollectionPath, memory_id: MemoryId, principal: Writer
) -> MemoryOut:
    """Forget one memory; 404 when this key has no such memory here."""
    info = request.app.state.library.forget(
        memory_id, collection=collection, key_id=principal.key_id
    )
    audit.record(request, principal, "memory.forget", str(memory_id), 200)
    return _memory(info)

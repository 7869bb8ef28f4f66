"""Search and ask: JSON, or server-sent events that stream the answer's tokens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mnemo.config.settings import COLLECTION_NAME
from mnemo.generation.ask import TextHandler
from mnemo.generation.types import Answer
from mnemo.retrieval.filters import Filters
from mnemo.retrieval.search import SearchResponse
from mnemo.server import schemas
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES
from mnemo.server.streaming import answer_events, error_payload

router = APIRouter(tags=["queries"], responses=ERROR_RESPONSES)
CollectionPath = Annotated[str, Path(pattern=COLLECTION_NAME.pattern)]


def to_filters(given: schemas.SearchFilters | None) -> Filters | None:
    if given is None:
        return None
    return Filters(
        path=tuple(given.path),
        media_types=tuple(given.media_types),
        tags=tuple(given.tags),
        modified_after=given.modified_after,  # made zone-aware by the request model
        modified_before=given.modified_before,
    )


def search_out(response: SearchResponse) -> schemas.SearchOut:
    # The response models' fields are attributes of the core's dataclasses.
    return schemas.SearchOut.model_validate(response, from_attributes=True)


def answer_out(answer: Answer) -> schemas.AnswerOut:
    # Likewise: citations carry their file and page as attributes.
    return schemas.AnswerOut.model_validate(answer, from_attributes=True)


@router.post("/collections/{collection}/search", response_model=schemas.SearchOut)
def search(
    request: Request,
    collection: CollectionPath,
    body: schemas.SearchRequest,
    _: Annotated[Principal, Depends(require("read"))],
) -> schemas.SearchOut:
    """The passages that best match a query (hybrid, keyword or dense)."""
    response = request.app.state.library.search(
        body.query,
        collection=collection,
        k=body.k,
        mode=body.mode,
        filters=to_filters(body.filters),
        rerank=body.rerank,
    )
    request.app.state.metrics.observe_search(response.seconds)
    return search_out(response)


@router.post(
    "/collections/{collection}/ask",
    response_model=schemas.AnswerOut,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def ask(
    request: Request,
    collection: CollectionPath,
    body: schemas.AskRequest,
    _: Annotated[Principal, Depends(require("read"))],
) -> schemas.AnswerOut | StreamingResponse:
    """An answer with checked citations; with ``stream``, server-sent events."""
    state = request.app.state

    def run(on_text: TextHandler | None = None) -> Answer:
        answer = state.library.ask(
            body.question,
            collection=collection,
            documents=body.documents,
            filters=to_filters(body.filters),
            mode=body.mode,
            use_llm=False if body.extractive else None,
            conversation_id=body.conversation_id,
            on_text=on_text,
            cache=body.cache,
        )
        if answer.conversation_id is None:  # kept so that it can be judged by its message id
            state.library.log_answer(answer, "the REST API", collection=collection)
        return answer

    if not body.stream:
        return answer_out(await run_in_threadpool(run))
    await run_in_threadpool(state.library.collection, collection)  # 404 up front

    async def events() -> AsyncIterator[str]:
        streamed = False
        async for kind, value in answer_events(run):
            if kind == "token":
                streamed = True
                yield _sse("token", {"text": value})
            elif kind == "answer":
                if not streamed:
                    yield _sse("token", {"text": value.text})  # type: ignore[union-attr]
                yield _sse("answer", answer_out(value).model_dump(mode="json"))  # type: ignore[arg-type]
            else:
                yield _sse("error", error_payload(value))  # type: ignore[arg-type]

    return StreamingResponse(events(), media_type="text/event-stream")


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

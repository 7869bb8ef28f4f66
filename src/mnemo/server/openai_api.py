"""OpenAI-compatible routes: each collection is a "model" that answers from its documents.

``/v1/models`` lists the collections; ``/v1/chat/completions`` answers the last
user message with :meth:`mnemo.Library.ask`, streamed or not, the earlier user
and assistant messages passed as the conversation a follow-up is read in. The text carries the
citation markers and a list of sources; the structured answer (citations with
their verdicts, sources) is in an extra ``mnemo`` field of the response, or of
the last chunk when streaming, which the official SDK keeps as an extra field.
Requests accept and ignore the sampling options chat front ends send.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mnemo.generation.ask import TextHandler
from mnemo.generation.types import Answer
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES, ApiError
from mnemo.server.queries import answer_out
from mnemo.server.streaming import answer_events, error_payload

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # Clients send temperature, max_tokens, n, stream_options, ...: accepted, unused.
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=64)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "mnemo"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models", response_model=ModelList)
def models(request: Request, _: Reader) -> ModelList:
    """Each collection, as a model to chat with."""
    created = int(time.time())
    found = request.app.state.library.collections()
    cards = [ModelCard(id=name, created=created) for name in found]
    return ModelList(data=cards)


def _question(body: ChatRequest) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the (question, answer) turns before it, oldest first."""
    asked = [i for i, m in enumerate(body.messages) if m.role == "user" and m.text().strip()]
    if not asked:
        raise ApiError(400, "no_question", "messages: no user message with text")
    history: list[tuple[str, str]] = []
    for i, message in enumerate(body.messages[: asked[-1]]):
        if message.role == "user" and i in asked:
            history.append((message.text(), ""))
        elif message.role == "assistant" and history and not history[-1][1]:
            answer = message.text().split("\n\nSources:\n", 1)[0]
            history[-1] = (history[-1][0], answer)
    return body.messages[asked[-1]].text(), history


def _sources_text(answer: Answer) -> str:
    cited = answer.cited or (answer.sources if answer.kind == "abstained" else [])
    if answer.kind == "unverified":
        return f"\n\n(Unverified answer by {answer.model}: its citations could not be checked.)"
    if not cited:
        return ""
    lines = []
    for source in cited:
        page = f", p. {source.page_start}" if source.page_start else ""
        lines.append(f"[{source.number}] {source.path}{page}")
    return "\n\nSources:\n" + "\n".join(lines)


def _usage(answer: Answer) -> dict[str, int]:
    used = answer.usage
    total = used.input_tokens + used.output_tokens
    return {
        "prompt_tokens": used.input_tokens,
        "completion_tokens": used.output_tokens,
        "total_tokens": total,
    }


@router.post(
    "/chat/completions",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def chat_completions(
    request: Request, body: ChatRequest, _: Reader
) -> dict[str, Any] | StreamingResponse:
    """Answer the last user message from the collection named by ``model``."""
    state = request.app.state
    question, history = _question(body)
    await run_in_threadpool(state.library.collection, body.model)  # 404 if unknown

    def run(on_text: TextHandler | None = None) -> Answer:
        answer = state.library.ask(
            question,
            collection=body.model,
            history=history,
            on_text=on_text,
        )
        state.library.log_answer(answer, "/v1", collection=body.model)  # its message id
        return answer

    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        answer = await run_in_threadpool(run)
        return {
            # The id names the stored answer: POST /v1/feedback judges it by this id.
            "id": f"chatcmpl-{answer.message_id}",
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": answer.text + _sources_text(answer),
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(answer),
            "mnemo": answer_out(answer).model_dump(mode="json"),
        }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        streamed = False
        async for kind, value in answer_events(run):
            if kind == "token":
                streamed = True
                yield chunk({"content": value})
            elif kind == "answer":
                text = _sources_text(value)  # type: ignore[arg-type]
                if not streamed:
                    text = value.text + text  # type: ignore[union-attr]
                if text:
                    yield chunk({"content": text})
                out = answer_out(value).model_dump(mode="json")  # type: ignore[arg-type]
                yield chunk({}, "stop", usage=_usage(value), mnemo=out)  # type: ignore[arg-type]
            else:
                yield f"data: {json.dumps(error_payload(value))}\n\n"  # type: ignore[arg-type]
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")

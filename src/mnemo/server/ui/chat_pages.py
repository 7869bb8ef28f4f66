"""The chat page: ask, watch the answer stream in, check each citation in the viewer;
conversations listed, resumed and deleted. Answers come from ``Library.ask`` as in
the REST API's ``/ask``, streamed through the same :func:`answer_events`."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from mnemo.catalog.models import Turn
from mnemo.generation.types import Answer
from mnemo.server import audit
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.streaming import answer_events, error_payload
from mnemo.server.ui.library_pages import Collection, checked_name
from mnemo.server.ui.render import can, page, render, url
from mnemo.server.ui.session import check_csrf

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
CHAT = f"{UI_PREFIX}/chat"
MAX_QUESTION = 4000
_MARKER = re.compile(r"\[(\d{1,3})\]")
VERDICTS = {
    "supported": "supported",
    "quoted": "quoted",
    "unsupported": "unsupported",
    "invalid": "removed",
}


def with_chips(text: str, chips: dict[int, list[dict[str, Any]]]) -> Markup:
    """The answer's text escaped, each ``[n]`` a link to its passage showing its verdict."""
    taken: dict[int, int] = defaultdict(int)
    out: list[Markup] = []
    at = 0
    for match in _MARKER.finditer(text):
        number = int(match.group(1))
        found = chips.get(number)
        if not found:
            continue
        chip = found[min(taken[number], len(found) - 1)]
        taken[number] += 1
        out += [escape(text[at : match.start()]), Markup(render("chip.html", chip=chip))]
        at = match.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


def answer_view(answer: Answer, collection: str) -> dict[str, Any]:
    chips: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for citation in answer.citations:
        source = citation.source
        link = None
        if source is not None:
            link = url(
                f"{UI_PREFIX}/view",
                c=collection,
                doc=source.document_id,
                chunk=source.chunk_ids[0] if source.chunk_ids else None,
                page=source.page_start,
            )
        chips[citation.number].append(
            {
                "number": citation.number,
                "link": link,
                "verdict": VERDICTS.get(citation.verdict, citation.verdict),
                "quote": citation.quote,
            }
        )
    sources = [
        {
            "passage": s,
            "link": url(
                f"{UI_PREFIX}/view",
                c=collection,
                doc=s.document_id,
                chunk=s.chunk_ids[0] if s.chunk_ids else None,
                page=s.page_start,
            ),
        }
        for s in answer.sources
    ]
    return {
        "question": answer.question,
        "kind": answer.kind,
        "model": answer.model,
        "html": with_chips(answer.text, chips),
        "sources": sources,
        "warnings": answer.warnings,
    }


def turn_view(turn: Turn, collection: str) -> dict[str, Any]:
    chips: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cited in turn.citations:
        item: dict[str, Any] = cited if isinstance(cited, dict) else {}
        number = int(item.get("number", 0))
        link = (
            url(f"{UI_PREFIX}/view", c=collection, doc=item["path"], page=item.get("page"))
            if item.get("path")
            else None
        )
        chips[number].append(
            {
                "number": number,
                "link": link,
                "verdict": VERDICTS.get(item.get("verdict", ""), "removed"),
                "quote": None,
            }
        )
    return {
        "question": turn.question,
        "kind": turn.kind,
        "model": None,
        "html": with_chips(turn.answer, chips),
        "sources": [],
        "warnings": [],
    }


@router.get(CHAT)
def chat_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    conv: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    library = request.app.state.library
    known = name in library.collections()
    conversations = library.conversations(collection=name) if known else []
    turns = [turn_view(t, name) for t in library.turns(conv)] if conv else []
    return page(
        request,
        "chat.html",
        collection=name,
        conversations=conversations,
        conv=conv,
        turns=turns,
        llm=library.settings.llm.provider != "none",
        missing=not known,
    )


@router.post(f"{CHAT}/ask")
async def ask(request: Request, principal: Reader) -> Response:
    state = request.app.state
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    question = str(form.get("question") or "").strip()
    if not question:
        raise ApiError(400, "empty_question", "type a question first")
    if len(question) > MAX_QUESTION:
        raise ApiError(
            400,
            "question_too_long",
            f"the question is {len(question):,} characters; ask in at most {MAX_QUESTION:,}",
        )
    extractive = form.get("extractive") == "on"
    conv = str(form.get("conv") or "")[:64] or None
    await run_in_threadpool(state.library.collection, name)  # 404 up front
    if conv is None and can(principal, "write"):
        conv = await run_in_threadpool(
            state.library.start_conversation, question[:80], collection=name
        )
        await run_in_threadpool(audit.record, request, principal, "conversation.create", conv, 201)

    def run(on_text: Callable[[str], None] | None = None) -> Answer:
        answer = state.library.ask(
            question,
            collection=name,
            use_llm=False if extractive else None,
            conversation_id=conv,
            on_text=on_text,
        )
        state.metrics.observe_answer(answer)
        return answer

    if request.headers.get("accept") != "text/event-stream":
        answer = await run_in_threadpool(run)
        # The page again, the new answer live (its citations open the exact passage).
        earlier = await run_in_threadpool(state.library.turns, conv) if conv else []
        conversations = await run_in_threadpool(state.library.conversations, collection=name)
        return page(
            request,
            "chat.html",
            collection=name,
            conversations=conversations,
            conv=conv,
            turns=[turn_view(t, name) for t in earlier[:-1]] + [answer_view(answer, name)],
            llm=state.settings.llm.provider != "none",
            missing=False,
        )

    async def events() -> AsyncIterator[str]:
        async for kind, value in answer_events(run):
            if kind == "token":
                yield _sse("token", {"text": value})
            elif kind == "answer":
                view = answer_view(value, name)  # type: ignore[arg-type]
                html = render("turn.html", turn=view, collection=name)
                yield _sse(
                    "answer",
                    {
                        "html": html,
                        "conversation": conv,
                        "link": url(CHAT, c=name, conv=conv) if conv else None,
                    },
                )
            else:
                message = error_payload(value)["error"]["message"]  # type: ignore[arg-type]
                yield _sse(
                    "error", {"html": render("message.html", level="error", message=message)}
                )

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.post(f"{CHAT}/delete")
async def delete(request: Request, principal: Writer) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), request.app.state.settings.collection)
    conv = str(form.get("conv") or "")[:64]
    await run_in_threadpool(request.app.state.library.delete_conversation, conv)
    await run_in_threadpool(audit.record, request, principal, "conversation.delete", conv, 200)
    return RedirectResponse(url(CHAT, c=name), status_code=303)


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

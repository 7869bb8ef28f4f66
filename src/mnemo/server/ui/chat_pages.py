"""The chat page: ask (of the collection, or of one whole document), watch the answer
stream in, check each citation in the viewer. Answers come from ``Library.ask`` as in
the REST API's ``/ask``, streamed through the same :func:`answer_events`.
Conversations are renamed, exported, judged and deleted in :mod:`.conversation_pages`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mnemo.agents.types import ResearchAnswer
from mnemo.generation.types import Answer
from mnemo.server import audit
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.streaming import answer_events, error_payload
from mnemo.server.ui.answer_views import answer_view, research_view, turn_view
from mnemo.server.ui.library_pages import Collection, checked_name
from mnemo.server.ui.render import can, page, render, url
from mnemo.server.ui.session import check_csrf, csrf_token

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
CHAT = f"{UI_PREFIX}/chat"
MAX_QUESTION = 4000
DocName = Annotated[str | None, Query(max_length=4096)]


def _document(library: Any, name: str | None, collection: str) -> Any:
    """The document a whole-document question is about (its info), or None."""
    if not name:
        return None
    info, _ = library.document(name, collection=collection)
    return info


def chat_values(
    request: Request, name: str, conv: str | None, doc: str | None = None
) -> dict[str, Any]:
    """What the chat page shows: the conversations, this one's answers, the ask form."""
    library = request.app.state.library
    known = name in library.collections()
    conversations = library.conversations(collection=name) if known else []
    turns: list[dict[str, Any]] = []
    title = None
    if conv:
        judged = library.feedback(conv)
        turns = [turn_view(t, name, judged.get(t.position)) for t in library.turns(conv)]
        title = next((c.title for c in conversations if c.id == conv), None)
    return {
        "collection": name,
        "conversations": conversations,
        "conv": conv,
        "conv_title": title,
        "turns": turns,
        "llm": library.settings.llm.provider != "none",
        # The microphone button: only where a transcription server can hear the question.
        "voice": library.settings.transcription.base_url is not None,
        "missing": not known,
        "document": _document(library, doc, name) if known else None,
    }


@router.get(CHAT)
def chat_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    conv: Annotated[str | None, Query(max_length=64)] = None,
    doc: DocName = None,
) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    return page(request, "chat.html", **chat_values(request, name, conv, doc))


def _question(form: Any) -> str:
    question = str(form.get("question") or "").strip()
    if not question:
        raise ApiError(400, "empty_question", "type a question first")
    if len(question) > MAX_QUESTION:
        raise ApiError(
            400,
            "question_too_long",
            f"the question is {len(question):,} characters; ask in at most {MAX_QUESTION:,}",
        )
    return question


@router.post(f"{CHAT}/ask")
async def ask(request: Request, principal: Reader) -> Response:
    state = request.app.state
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    question = _question(form)
    extractive = form.get("extractive") == "on"
    research = form.get("research") == "on"
    conv = str(form.get("conv") or "")[:64] or None
    doc = str(form.get("doc") or "").strip()[:4096] or None
    await run_in_threadpool(state.library.collection, name)  # 404 up front
    if doc:  # an unknown document: a message now, not half a conversation
        await run_in_threadpool(_document, state.library, doc, name)
    if conv is None and can(principal, "write"):
        conv = await run_in_threadpool(
            state.library.start_conversation, question[:80], collection=name
        )
        await run_in_threadpool(audit.record, request, principal, "conversation.create", conv, 201)

    researched: list[ResearchAnswer] = []  # research mode: the run, for its steps

    def run(on_text: Callable[[str], None] | None = None) -> Answer:
        if research and not doc:
            found = state.library.research(
                question,
                collection=name,
                use_llm=False if extractive else None,
                key_id=principal.key_id,
                conversation_id=conv,
            )
            researched.append(found)
            return found.answer
        return state.library.ask(  # counted in the metrics by the Library's listener
            question,
            collection=name,
            documents=[doc] if doc else (),
            use_llm=False if extractive else None,
            conversation_id=conv,
            on_text=on_text,
        )

    def view(answer: Answer) -> dict[str, Any]:
        shown = answer_view(answer, name)
        if researched:
            shown.update(research_view(researched[-1]))
        return shown

    if request.headers.get("accept") != "text/event-stream":
        answer = await run_in_threadpool(run)
        # The page again, the new answer live (its citations open the exact passage).
        values = await run_in_threadpool(chat_values, request, name, conv, doc)
        values["turns"] = values["turns"][:-1] + [view(answer)]
        return page(request, "chat.html", **values)

    frame = {"csrf": csrf_token(request), "can_write": can(principal, "write")}

    async def events() -> AsyncIterator[str]:
        async for kind, value in answer_events(run):
            if kind == "token":
                yield _sse("token", {"text": value})
            elif kind == "answer":
                shown = view(value)  # type: ignore[arg-type]
                html = render("turn.html", turn=shown, collection=name, **frame)
                link = url(CHAT, c=name, conv=conv, doc=doc) if conv else None
                yield _sse("answer", {"html": html, "conversation": conv, "link": link})
            else:
                message = error_payload(value)["error"]["message"]  # type: ignore[arg-type]
                yield _sse(
                    "error", {"html": render("message.html", level="error", message=message)}
                )

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

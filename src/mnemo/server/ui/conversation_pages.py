"""Conversations on the chat page: renamed, exported as Markdown, deleted, and each answer
judged (thumbs, a correction) through ``Library.add_feedback`` as the REST API does."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mnemo.server import audit
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.chat_pages import CHAT
from mnemo.server.ui.library_pages import checked_name
from mnemo.server.ui.render import url
from mnemo.server.ui.session import check_csrf, flash

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
MAX_CORRECTION = 4000
_TITLE = 200


def _conv(form: object) -> str:
    return str(form.get("conv") or "")[:64]  # type: ignore[attr-defined]


@router.post(f"{CHAT}/rename")
async def rename(request: Request, principal: Writer) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), request.app.state.settings.collection)
    conv = _conv(form)
    title = str(form.get("title") or "").strip()
    if not title:
        raise ApiError(400, "empty_title", "a conversation's title cannot be empty")
    if len(title) > _TITLE:
        raise ApiError(400, "title_too_long", f"a title has at most {_TITLE} characters")
    await run_in_threadpool(request.app.state.library.rename_conversation, conv, title)
    await run_in_threadpool(audit.record, request, principal, "conversation.rename", conv, 200)
    response = RedirectResponse(url(CHAT, c=name, conv=conv), status_code=303)
    flash(request, response, [("info", "renamed the conversation")])
    return response


@router.get(f"{CHAT}/export")
def export(
    request: Request, _: Reader, conv: Annotated[str, Query(min_length=1, max_length=64)]
) -> Response:
    """The conversation as a Markdown file, with each answer's cited sources."""
    info, markdown = request.app.state.library.export_conversation(conv)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", info.title).strip("-").lower()[:60] or "conversation"
    return Response(
        markdown,
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}.md"',
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        },
    )


@router.post(f"{CHAT}/delete")
async def delete(request: Request, principal: Writer) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), request.app.state.settings.collection)
    conv = _conv(form)
    await run_in_threadpool(request.app.state.library.delete_conversation, conv)
    await run_in_threadpool(audit.record, request, principal, "conversation.delete", conv, 200)
    return RedirectResponse(url(CHAT, c=name), status_code=303)


@router.post(f"{CHAT}/feedback")
async def feedback(request: Request, principal: Writer) -> Response:
    """Thumbs up or down, and a correction, on one answer; back to it afterwards."""
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), request.app.state.settings.collection)
    conv = _conv(form)
    try:
        position = int(str(form.get("position") or ""))
    except ValueError:
        raise ApiError(400, "bad_position", "position: the answer's number is missing") from None
    thumbs = str(form.get("thumbs") or "") or None
    if thumbs not in (None, "up", "down"):
        raise ApiError(400, "bad_thumbs", "thumbs: up or down")
    correction = " ".join(str(form.get("correction") or "").split()) or None
    if correction and len(correction) > MAX_CORRECTION:
        raise ApiError(
            400, "correction_too_long", f"a correction has at most {MAX_CORRECTION:,} characters"
        )
    if thumbs is None and correction is None:
        raise ApiError(400, "empty_feedback", "choose thumbs up or down, or write a correction")
    await run_in_threadpool(
        lambda: request.app.state.library.add_feedback(
            conv, position, thumbs=thumbs, correction=correction, key_id=principal.key_id
        )
    )
    target = f"{conv}/{position}"
    await run_in_threadpool(audit.record, request, principal, "feedback.create", target, 201)
    response = RedirectResponse(url(CHAT, c=name, conv=conv) + f"#turn-{position}", 303)
    flash(request, response, [("info", "thank you: your feedback on the answer is saved")])
    return response

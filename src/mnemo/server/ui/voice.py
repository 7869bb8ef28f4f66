"""Asking by voice: the chat page's recording, heard by the configured transcription server.

The browser records the question (MediaRecorder) and posts it here; the text comes
back into the question box for the user to correct before asking. The recording is
sent to ``transcription.base_url`` only, and the route refuses when none is set.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mnemo.server.auth import Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.chat_pages import CHAT
from mnemo.server.ui.session import check_csrf

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
TRANSCRIBE_PATH = f"{CHAT}/transcribe"


@router.post(TRANSCRIBE_PATH)
async def transcribe(request: Request, _: Reader) -> JSONResponse:
    """``{"text": …}``: the words of the recording in the form's ``audio`` field."""
    form = await request.form()
    check_csrf(request, form)
    audio = form.get("audio")
    if audio is None or isinstance(audio, str):
        raise ApiError(400, "no_audio", "no recording was sent: record the question again")
    data = await audio.read()
    name = audio.filename or "question.webm"
    text = await run_in_threadpool(request.app.state.library.hear, data, name)
    return JSONResponse({"text": text})

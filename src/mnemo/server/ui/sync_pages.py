"""Re-sync from the library page: a collection's sources (or one of them) scanned again by
a background job, as an upload or an added folder is; changed files are indexed again,
deleted ones removed, unchanged ones skipped.

Only a collection's own sources are synced, and only those below the folders this
server may read for clients (``server.allowed_roots``); a source added on the server
with the CLI from elsewhere is listed with the command that syncs it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mnemo.server import audit
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.library_pages import checked_name, done
from mnemo.server.ui.session import check_csrf
from mnemo.server.ui.sources import readable
from mnemo.server.uploads import is_upload

router = APIRouter(include_in_schema=False)
Writer = Annotated[Principal, Depends(require("write"))]


@router.post(f"{UI_PREFIX}/sync")
async def sync(request: Request, principal: Writer) -> Response:
    """Re-sync one source (``path``, one of the collection's) or all it may read."""
    state = request.app.state
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    wanted = str(form.get("path") or "").strip()[:4096] or None
    sources = await run_in_threadpool(lambda: state.library.sources(collection=name))
    paths = [s.path for s in sources if not is_upload(state.settings, s.path)]
    if wanted is not None:
        if wanted not in paths:
            raise ApiError(400, "not_a_source", f"{wanted} is not a source of collection {name!r}")
        paths = [wanted]
    allowed = [p for p in paths if readable(request, p)]
    if not allowed:
        what = "that source is" if wanted else "none of this collection's sources is"
        raise ApiError(
            400,
            "cannot_sync",
            f"{what} below a folder this server reads for clients (server.allowed_roots): "
            f"sync it on the server with `mnemo sync -c {name}`"
            if paths
            else "nothing to re-sync: this collection holds only uploaded files",
        )
    await run_in_threadpool(state.jobs.submit, name, allowed)
    for path in allowed:
        await run_in_threadpool(audit.record, request, principal, "source.sync", path, 202)
    count = f"{len(allowed)} source{'s' if len(allowed) != 1 else ''}"
    skipped = len(paths) - len(allowed)
    messages = [("info", f"re-syncing {count}; changed files are indexed again")]
    if skipped:
        messages.append(
            ("warn", f"{skipped} source(s) outside the server's folders were left: `mnemo sync`")
        )
    return done(request, name, messages)

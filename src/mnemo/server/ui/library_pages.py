"""The library page: collections, documents (paged, sorted, filtered), uploads, jobs."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mnemo.catalog.jobs import JobInfo
from mnemo.catalog.summary import DOCUMENT_SORTS
from mnemo.config.settings import COLLECTION_NAME
from mnemo.errors import CollectionError
from mnemo.server import audit
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.render import html_response, page, render, url
from mnemo.server.ui.session import check_csrf, flash
from mnemo.server.ui.sources import source_views
from mnemo.server.uploads import allowed_path, check_upload, is_upload, save_upload

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Collection = Annotated[str | None, Query(alias="c", max_length=64)]
UPLOAD_PATH = f"{UI_PREFIX}/upload"
PAGE_SIZE = 50
LIBRARY = f"{UI_PREFIX}/library"


def checked_name(name: str | None, default: str) -> str:
    """A collection name from a form or link; ApiError 400 naming the rule if it breaks it."""
    name = (name or default).strip()
    if not COLLECTION_NAME.match(name):
        raise ApiError(
            400,
            "bad_collection_name",
            f"collection name {name[:80]!r} is not allowed: use 1 to 64 letters, digits, "
            "'-' or '_', starting with a letter or digit",
        )
    return name


def job_view(job: JobInfo) -> dict[str, Any]:
    """A job as the page shows it: progress, and the time left while it runs."""
    eta = None
    if job.state == "running" and job.started_at and 0 < job.files_done < job.files_total:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
        spent = (datetime.now(UTC) - started).total_seconds()
        eta = math.ceil(spent / job.files_done * (job.files_total - job.files_done))
    return {"job": job, "eta": eta, "name": ", ".join(Path(p).name for p in job.paths[:3])}


def jobs_fragment(request: Request, collection: str) -> str:
    found = request.app.state.jobs.list(collection)[:10]
    active = any(j.state in ("queued", "running") for j in found)
    return render(
        "jobs.html",
        jobs=[job_view(j) for j in found],
        active=active,
        poll=url(f"{UI_PREFIX}/jobs", c=collection),
    )


@router.get(LIBRARY)
def library_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    state: Annotated[str | None, Query(pattern="^(indexed|skipped|failed)?$")] = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    sort: Annotated[str, Query(max_length=20)] = "path",
    desc: bool = False,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    settings = request.app.state.settings
    library = request.app.state.library
    name = checked_name(c, settings.collection)
    if sort not in DOCUMENT_SORTS:
        raise ApiError(
            400,
            "bad_sort",
            f"cannot sort by {sort[:40]!r}: use one of " + ", ".join(DOCUMENT_SORTS),
        )
    if name not in library.collections():
        return page(request, "library.html", collection=name, missing=True, status=200)
    status = library.status(collection=name, check_index=False)[0]
    found = library.document_page(
        collection=name,
        state=state or None,
        contains=q or None,
        sort=sort,
        descending=desc,
        offset=(page_number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    here = {"c": name, "state": state, "q": q, "sort": sort, "desc": int(desc) if desc else None}
    return page(
        request,
        "library.html",
        collection=name,
        missing=False,
        status_info=status,
        found=found,
        page_number=page_number,
        pages=pages,
        here=here,
        sorts=list(DOCUMENT_SORTS),
        jobs=jobs_fragment(request, name),
        sources=source_views(request, name),
        allowed_roots=[str(r) for r in settings.server.allowed_roots],
        max_upload_mb=settings.server.max_upload_mb,
    )


@router.get(f"{UI_PREFIX}/jobs")
def jobs(request: Request, _: Reader, c: Collection = None) -> HTMLResponse:
    """The collection's recent jobs, for the page to poll while any is running."""
    name = checked_name(c, request.app.state.settings.collection)
    return html_response(request, jobs_fragment(request, name))


def done(request: Request, collection: str, messages: list[tuple[str, str]]) -> Response:
    """After a form: the messages as a fragment for the page's script; without it, the
    library again with the messages (or, for errors, a page with them)."""
    if request.headers.get("x-requested-with") == "fetch":
        failed = any(level == "error" for level, _ in messages)
        html = "".join(render("message.html", level=lv, message=m) for lv, m in messages)
        return html_response(request, html, 400 if failed and len(messages) == 1 else 200)
    if all(level != "error" for level, _ in messages):
        response = RedirectResponse(url(LIBRARY, c=collection), status_code=303)
        flash(request, response, messages)  # shown by the next page: no script needed
        return response
    return page(
        request,
        "error.html",
        status=400,
        collection=collection,
        messages=messages,
        message=None,
        back=url(LIBRARY, c=collection),
    )


@router.post(UPLOAD_PATH)
async def upload(request: Request, principal: Writer) -> Response:
    """Files from the browser: each checked and saved as the REST upload does, then
    indexed by one background job."""
    state = request.app.state
    form = await request.form(max_files=100)
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    await run_in_threadpool(state.library.collection, name)  # 404 up front
    messages: list[tuple[str, str]] = []
    saved: list[str] = []
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise ApiError(400, "no_files", "choose one or more files to upload")
    for file in files:
        data = await file.read()
        try:
            checked = check_upload(file.filename or "", data, state.settings.server.max_upload_mb)
        except ApiError as exc:
            messages.append(("error", exc.message))
            continue
        path = await run_in_threadpool(save_upload, state.settings, name, checked, data)
        saved.append(str(path))
        await run_in_threadpool(audit.record, request, principal, "document.upload", str(path), 202)
    if saved:
        await run_in_threadpool(state.jobs.submit, name, saved)
        count = f"{len(saved)} file{'s' if len(saved) != 1 else ''}"
        messages.append(("info", f"{count} uploaded; indexing has started"))
    return done(request, name, messages)


@router.post(f"{UI_PREFIX}/sources")
async def add_source(request: Request, principal: Writer) -> Response:
    """A file or folder on the server, below server.allowed_roots, added by a job."""
    state = request.app.state
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    raw = str(form.get("path") or "").strip()[:4096]
    if not raw:
        raise ApiError(400, "bad_path", "enter an absolute path on the server")
    await run_in_threadpool(state.library.collection, name)
    path = allowed_path(state.settings, raw)
    await run_in_threadpool(state.jobs.submit, name, [str(path)])
    await run_in_threadpool(audit.record, request, principal, "source.add", str(path), 202)
    return done(request, name, [("info", f"adding {path}; indexing has started")])


@router.post(f"{UI_PREFIX}/collections")
async def create_collection(request: Request, principal: Writer) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("name") or "").strip() or "-", "")
    library = request.app.state.library
    try:
        await run_in_threadpool(library.create_collection, name)
    except CollectionError as exc:
        raise ApiError(409 if "exists" in str(exc) else 400, "collection", str(exc)) from exc
    await run_in_threadpool(audit.record, request, principal, "collection.create", name, 201)
    return RedirectResponse(url(LIBRARY, c=name), status_code=303)


@router.get(UI_PREFIX + "/collections/{name}/delete")
def confirm_delete(request: Request, name: str, _: Writer) -> Response:
    name = checked_name(name, "")
    info = request.app.state.library.status(collection=name, check_index=False)[0]
    return page(request, "confirm_delete.html", collection=name, info=info)


@router.post(UI_PREFIX + "/collections/{name}/delete")
async def delete_collection(request: Request, name: str, principal: Writer) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(name, "")
    if str(form.get("confirm") or "").strip() != name:
        raise ApiError(400, "not_confirmed", f"type the collection's name, {name}, to delete it")
    await run_in_threadpool(request.app.state.library.delete_collection, name)
    await run_in_threadpool(audit.record, request, principal, "collection.delete", name, 200)
    return RedirectResponse(LIBRARY, status_code=303)


@router.post(f"{UI_PREFIX}/documents/remove")
async def remove_document(request: Request, principal: Writer) -> Response:
    state = request.app.state
    form = await request.form()
    check_csrf(request, form)
    name = checked_name(str(form.get("c") or ""), state.settings.collection)
    doc = str(form.get("doc") or "")[:64]
    path = await run_in_threadpool(state.library.remove_document, doc, collection=name)
    if is_upload(state.settings, path):
        Path(path).unlink(missing_ok=True)
    await run_in_threadpool(audit.record, request, principal, "document.delete", path, 200)
    return done(request, name, [("info", f"removed {path}")])

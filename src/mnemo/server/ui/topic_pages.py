"""Topics (browsable: a topic, its notes, open one) and, for an admin, a collection's
archive: download it, or upload one into a new collection (what `mnemo export` and
`mnemo import` do)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mnemo.errors import CollectionError
from mnemo.server import audit
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.library_pages import checked_name
from mnemo.server.ui.render import page, url
from mnemo.server.ui.session import check_csrf, flash
from mnemo.transfer.archive import ArchiveError

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Collection = Annotated[str | None, Query(alias="c", max_length=64)]
ARCHIVE = f"{UI_PREFIX}/archive"
#: The page's upload route: it gets server.max_upload_mb (limits.BodyLimit).
IMPORT_PATH = f"{ARCHIVE}/import"


@router.get(UI_PREFIX + "/topics")
def topics_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    t: Annotated[int | None, Query(ge=0, le=100_000)] = None,
) -> Response:
    """Every topic with its size and keywords; with ``t``, that topic's notes."""
    name = checked_name(c, request.app.state.settings.collection)
    found = request.app.state.library.topics(collection=name)
    chosen = None
    if t is not None:
        if t >= len(found):
            raise ApiError(404, "topic_not_found", f"no topic {t}: the collection has {len(found)}")
        chosen = found[t]
    return page(request, "topics.html", collection=name, topics=found, chosen=chosen, chosen_id=t)


@router.get(ARCHIVE)
def archive_page(request: Request, _: Admin, c: Collection = None) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    names = [s.name for s in request.app.state.library.status()]
    return page(
        request,
        "archive.html",
        collection=name,
        names=names,
        max_mb=request.app.state.settings.server.max_upload_mb,
    )


def _export(library, collection: str) -> Path:  # type: ignore[no-untyped-def]
    folder = Path(tempfile.mkdtemp(prefix="mnemo-export-"))
    path = folder / f"{collection}.mnemo.zip"
    try:
        library.export_collection(path, collection=collection)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


@router.get(f"{ARCHIVE}/download")
async def download(request: Request, principal: Admin, c: Collection = None) -> Response:
    """The collection's archive, written to a temporary file and sent from disk."""
    name = checked_name(c, request.app.state.settings.collection)
    path = await run_in_threadpool(_export, request.app.state.library, name)
    await run_in_threadpool(audit.record, request, principal, "collection.export", name, 200)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


def _import(library, upload: UploadFile, name: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    try:
        library.collection(name)
    except CollectionError:
        pass
    else:
        raise ArchiveError(f"collection {name!r} exists already: choose a new name")
    with tempfile.TemporaryDirectory(prefix="mnemo-import-") as folder:
        path = Path(folder) / "upload.mnemo.zip"
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        try:
            _, counts, _ = library.import_collection(path, name=name, settings=False)
        except ArchiveError as exc:
            raise ArchiveError(str(exc).replace(str(path), "the archive")) from None
    return counts


@router.post(IMPORT_PATH)
async def upload(request: Request, principal: Admin) -> Response:
    """An uploaded archive into a new collection; the archive's settings are not applied."""
    form = await request.form(max_files=1)
    check_csrf(request, form)
    state = request.app.state
    name = checked_name(str(form.get("name") or "").strip() or None, "")
    file = form.get("archive")
    if not isinstance(file, UploadFile) or not file.filename:
        raise ApiError(400, "no_files", "choose an archive to upload")
    try:
        counts = await run_in_threadpool(_import, state.library, file, name)
    except ArchiveError as exc:
        names = [s.name for s in state.library.status()]
        return page(
            request,
            "archive.html",
            status=400,
            collection=state.settings.collection,
            names=names,
            max_mb=state.settings.server.max_upload_mb,
            messages=[("error", str(exc))],
        )
    await run_in_threadpool(audit.record, request, principal, "collection.import", name, 201)
    response = RedirectResponse(url("/ui/library", c=name), status_code=303)
    text = f"imported collection {name!r}: {counts.get('documents', 0)} document(s)"
    flash(request, response, [("info", text)])
    return response

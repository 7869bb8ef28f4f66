"""The graph view (a note's neighbourhood or the whole collection) and the digest page.

The drawing is vis-network's, served from the file inside the installed pyvis wheel
(``pyvis/lib/vis-9.1.2``): no CDN, no copy in this repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.library_pages import checked_name
from mnemo.server.ui.render import page

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Collection = Annotated[str | None, Query(alias="c", max_length=64)]
DocId = Annotated[str | None, Query(max_length=4096)]
VIS = {"vis-network.min.js": "application/javascript", "vis-network.css": "text/css"}
SPANS = {"1d": 1, "7d": 7, "30d": 30, "365d": 365}


@router.get(UI_PREFIX + "/vendor/{name}")
def vendor(name: str, _: Reader) -> Response:
    """vis-network, from the pyvis package."""
    if name not in VIS:
        raise ApiError(404, "not_found", f"no file {name[:80]!r}")
    path = files("pyvis") / "lib" / "vis-9.1.2" / name
    return FileResponse(str(path), media_type=VIS[name], headers={"Cache-Control": "max-age=86400"})


@router.get(UI_PREFIX + "/graph")
def graph_page(request: Request, _: Reader, c: Collection = None, doc: DocId = None) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    title = None
    if doc:
        info, _chunks = request.app.state.library.document(doc, collection=name)
        title = info.title or info.path
    return page(request, "graph.html", collection=name, doc=doc or "", doc_title=title)


@router.get(UI_PREFIX + "/graph.json")
def graph_data(
    request: Request,
    _: Reader,
    c: Collection = None,
    doc: DocId = None,
    depth: Annotated[int, Query(ge=1, le=3)] = 1,
) -> JSONResponse:
    name = checked_name(c, request.app.state.settings.collection)
    found = request.app.state.library.graph_drawing(
        around=doc or None, depth=depth, collection=name
    )
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


@router.get(UI_PREFIX + "/digest")
def digest_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    since: Annotated[str, Query(pattern="^(1d|7d|30d|365d)$")] = "7d",
) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    library = request.app.state.library
    start = datetime.now(UTC) - timedelta(days=SPANS[since])
    found = library.digest(start, collection=name)
    return page(
        request,
        "digest.html",
        collection=name,
        digest=found,
        since=since,
        spans=list(SPANS),
        topics=library.topics(collection=name),
        resurfaced=library.resurface(collection=name),
    )

"""The source viewer: a PDF page with the passage highlighted, or the document's text
with the passage marked and scrolled into view; the original file where it may be served."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from mnemo.catalog import Chunk
from mnemo.errors import SourceError
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.paths import readable_roots
from mnemo.server.ui import pdfpage
from mnemo.server.ui.library_pages import Collection, checked_name
from mnemo.server.ui.render import page as render_page

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
DocId = Annotated[str, Query(min_length=1, max_length=4096)]
ChunkId = Annotated[str | None, Query(max_length=64)]
PageNumber = Annotated[int | None, Query(ge=1, le=100_000)]
Zoom = Annotated[float, Query(ge=0.5, le=4.0)]
PDF = "application/pdf"
#: Chunks of a document's text shown at once: a long document shows a window around the
#: cited passage, with links to the text before and after, never all of it.
WINDOW = 40


def _find(chunks: list[Chunk], chunk_id: str | None) -> Chunk | None:
    return next((c for c in chunks if c.id == chunk_id), None) if chunk_id else None


def text_sections(chunks: list[Chunk], cited: Chunk | None) -> list[dict[str, Any]]:
    """The document's text as its chunks in order, each without the text it repeats from
    the one before (chunks overlap), the cited one marked."""
    sections, end = [], 0
    for chunk in chunks:
        text = chunk.text
        exact = len(text) == chunk.char_end - chunk.char_start
        if exact and chunk.char_start < end:
            text = text[min(len(text), end - chunk.char_start) :]
        end = max(end, chunk.char_end)
        if text or chunk is cited:
            sections.append(
                {
                    "chunk": chunk,
                    "text": text if chunk is not cited else chunk.text,
                    "cited": chunk is cited,
                }
            )
    return sections


def text_window(total: int, cited: int | None, at: int | None) -> tuple[int, int]:
    """The chunks ``[start, end)`` to show: :data:`WINDOW` of them centred on ``at`` (a
    chunk's position), else on the cited chunk, else from the start."""
    if total <= WINDOW:
        return 0, total
    centre = at if at is not None else cited
    if centre is None:
        return 0, WINDOW
    start = max(0, min(centre - WINDOW // 2, total - WINDOW))
    return start, start + WINDOW


def servable(request: Request, path: str) -> Path | None:
    """The file, if it lies below a folder the server may read for clients; else None."""
    try:
        resolved = Path(path).resolve()
    except OSError:
        return None
    for root in readable_roots(request.app.state.settings):
        try:
            if resolved.is_relative_to(root.resolve()) and resolved.is_file():
                return resolved
        except OSError:
            continue
    return None


@router.get(f"{UI_PREFIX}/view")
def view(
    request: Request,
    _: Reader,
    doc: DocId,
    c: Collection = None,
    chunk: ChunkId = None,
    page: PageNumber = None,
    zoom: Zoom = 1.5,
    q: Annotated[str | None, Query(max_length=20_000)] = None,
    at: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    info, chunks = request.app.state.library.document(doc, collection=name)
    cited = _find(chunks, chunk)
    values: dict[str, Any] = {
        "info": info,
        "cited": cited,
        "zoom": zoom,
        "q": q or "",
        "original": servable(request, info.path) is not None,
    }
    if info.media_type == PDF:
        number = page or (cited.page_start if cited and cited.page_start else 1)
        pages = info.pages or pdfpage.page_count(
            request.app.state.library.document_file(info.id, collection=name)
        )
        on_page = [c for c in chunks if (c.page_start or 0) <= number <= (c.page_end or 0)]
        values.update(pdf=True, number=min(number, max(pages, 1)), pages=pages, on_page=on_page)
    else:
        where = next((i for i, c in enumerate(chunks) if c is cited), None)
        start, end = text_window(len(chunks), where, at)
        values.update(
            pdf=False,
            sections=text_sections(chunks[start:end], cited),
            window={
                "start": start,
                "end": end,
                "total": len(chunks),
                "cited": where,
                "earlier": max(0, start - WINDOW // 2) if start > 0 else None,
                "later": end + WINDOW // 2 if end < len(chunks) else None,
            },
        )
    return render_page(request, "viewer.html", collection=name, **values)


@router.get(f"{UI_PREFIX}/page.png")
async def page_image(
    request: Request,
    _: Reader,
    doc: DocId,
    page: Annotated[int, Query(ge=1, le=100_000)],
    c: Collection = None,
    chunk: ChunkId = None,
    zoom: Zoom = 1.5,
) -> Response:
    """One page of an indexed PDF (the path comes from the catalog, never the client)."""
    name = checked_name(c, request.app.state.settings.collection)
    library = request.app.state.library
    info, chunks = await run_in_threadpool(library.document, doc, collection=name)
    if info.media_type != PDF:
        raise SourceError(f"{Path(info.path).name} is not a PDF")
    cited = _find(chunks, chunk)
    passage = (
        cited.text if cited and (cited.page_start or 0) <= page <= (cited.page_end or 0) else None
    )
    ocr = None
    if passage is not None and cited is not None:  # a scanned page: its OCR word boxes
        found = await run_in_threadpool(library.word_boxes, doc, cited.id, collection=name)
        ocr = next((p for p in found if p["page"] == page), None)
    source = await run_in_threadpool(library.document_file, info.id, collection=name)
    png = await run_in_threadpool(pdfpage.render_page, source, page, passage, zoom, ocr)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get(f"{UI_PREFIX}/file")
def original(request: Request, _: Reader, doc: DocId, c: Collection = None) -> Response:
    """The original file, as a download, if it lies below the allowed roots or uploads."""
    name = checked_name(c, request.app.state.settings.collection)
    info, _chunks = request.app.state.library.document(doc, collection=name)
    path = servable(request, info.path)
    if path is None:
        raise SourceError(
            f"{Path(info.path).name} is not below a folder this server serves files from "
            "(server.allowed_roots or its uploads)"
        )
    # A download, never shown in this origin: an uploaded HTML file must not run here.
    return FileResponse(
        path,
        filename=path.name,
        content_disposition_type="attachment",
        headers={"Content-Security-Policy": "sandbox"},
    )

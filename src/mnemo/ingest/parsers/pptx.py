"""PowerPoint decks (.pptx) through python-pptx: each slide a section and a page, with its notes.

A slide's number is its page number, so a citation names the slide.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.archive import check_package
from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)

name = "pptx"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _shapes(shapes: Any) -> Iterator[Any]:
    """Every shape, those inside groups included, in the slide's order."""
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _table(shape: Any) -> str:
    rows = [
        [" ".join(cell.text.split()).replace("|", "\\|") for cell in row.cells]
        for row in shape.table.rows
    ]
    rows = [r for r in rows if any(r)]
    return "\n".join(" | ".join(r) for r in rows)


def _slide_texts(slide: Any) -> tuple[str | None, list[str]]:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else None
    blocks = []
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False):
            blocks.append(_table(shape))
        elif getattr(shape, "has_text_frame", False):
            lines = [" ".join(p.text.split()) for p in shape.text_frame.paragraphs]
            blocks.append("\n".join(line for line in lines if line))
    return title or None, [b for b in blocks if b]


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    check_package(data, limits)
    try:
        deck = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseFailed(
            f"not a valid PowerPoint (.pptx) file ({exc}); re-save it from PowerPoint or "
            "LibreOffice (an old .ppt must be converted)"
        ) from exc
    slides = list(deck.slides)
    if len(slides) > limits.max_pages:
        raise ParseSkipped(
            f"deck has {len(slides):,} slides, over the limit of {limits.max_pages:,} "
            "(raise ingest.max_pages to index it)"
        )
    builder = DocumentBuilder(limits.max_text_chars)
    first_title = None
    has_text = False
    for number, slide in enumerate(slides, start=1):
        builder.start_page(number)
        title, blocks = _slide_texts(slide)
        first_title = first_title or title
        builder.heading(1, f"Slide {number}: {title}" if title else f"Slide {number}")
        for block in blocks:
            builder.block(block)
        has_text = has_text or bool(title or blocks)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                builder.block("Notes: " + notes.text.strip())
                has_text = True
    title = (deck.core_properties.title or "").strip() or first_title or path.name
    parsed = builder.build(title=title, markup="markdown", metadata={"slides": len(slides)})
    if not has_text:
        raise ParseSkipped("no text on any slide")
    return parsed

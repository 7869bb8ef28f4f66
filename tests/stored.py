"""What the catalog holds for one file: shared by the parser and format tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog, Chunk, Document
from mnemo.config import Settings


def stored(settings: Settings, path: Path) -> tuple[Document, list[Chunk]]:
    """The catalog's row for ``path`` and its chunks in reading order."""
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        doc = session.scalars(select(Document).where(Document.path == str(path))).one()
        chunks = session.scalars(
            select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.ordinal)
        ).all()
        return doc, list(chunks)


def index_one(settings: Settings, path: Path) -> tuple[Document, list[Chunk]]:
    """``path`` added on its own (it must be indexed), then :func:`stored`."""
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    return stored(settings, path)

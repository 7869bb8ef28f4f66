"""Which documents a name refers to, and a collection's indexed documents.

One resolver for every front end: a name is a document id, a path (``~`` and
relative paths are made absolute, symbolic links are kept: a document's path
is the path it was found by), the end of a path, or a file name. The MCP tools,
``--doc`` and whole-document questions all use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Collection, Document
from mnemo.errors import DocumentError


class DocumentState(StrEnum):
    """The one state every document is in."""

    INDEXED = "indexed"
    SKIPPED = "skipped"
    FAILED = "failed"


def indexed_documents(session: Session, collection: Collection) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(
                Document.collection_id == collection.id,
                Document.status == DocumentState.INDEXED,
            )
        )
    )


def matching(docs: Sequence[Document], name: str) -> list[Document]:
    """The documents of ``docs`` that ``name`` refers to (more than one: ambiguous)."""
    if not name.strip():
        return []
    by_id = [d for d in docs if d.id == name]
    if by_id:
        return by_id
    absolute = os.path.abspath(os.path.expanduser(name))
    exact = [d for d in docs if d.path == absolute]
    if exact:
        return exact
    tail = "/" + name.replace("\\", "/").removeprefix("./").lstrip("/")
    return [d for d in docs if d.path.endswith(tail)]


def resolve_document(
    docs: Sequence[Document], name: str, collection: str, kind: str = "document"
) -> Document:
    """The one document ``name`` refers to; DocumentError naming the problem otherwise
    (``kind`` says which documents ``docs`` are, e.g. "indexed document")."""
    found = matching(docs, name)
    if not found:
        raise DocumentError(f"no {kind} of collection {collection!r} matches {name!r}")
    if len(found) > 1:
        shown = ", ".join(d.path for d in found[:3])
        raise DocumentError(
            f"{name!r} matches {len(found)} documents of {collection!r} ({shown}); "
            "give more of the path"
        )
    return found[0]

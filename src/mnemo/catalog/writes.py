"""Catalog writes shared by ingestion and removal: queue for the index, delete a document."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document, IndexPending


def new_document_id() -> str:
    return uuid.uuid4().hex


def mark_for_index(session: Session, collection_id: int, document_id: str) -> None:
    """Queue the document's rows in the search index for rewriting, in this transaction."""
    session.add(IndexPending(collection_id=collection_id, document_id=document_id))


def delete_document(session: Session, document_id: str) -> None:
    collection_id = session.scalar(select(Document.collection_id).where(Document.id == document_id))
    if collection_id is not None:
        mark_for_index(session, collection_id, document_id)
    session.execute(delete(Chunk).where(Chunk.document_id == document_id))
    session.execute(delete(Document).where(Document.id == document_id))


def add_embeddings(session: Session, embedder_key: str, vectors: dict[str, bytes]) -> None:
    """Store vectors by embedding-input hash; one another process stored meanwhile
    (the same text embedded for another collection) is kept, not a conflict."""
    if not vectors:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    from mnemo.catalog.models import Embedding

    dialect = session.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {"embedder_key": embedder_key, "embed_hash": h, "vector": v} for h, v in vectors.items()
    ]
    session.execute(insert_into(Embedding).on_conflict_do_nothing(), rows)

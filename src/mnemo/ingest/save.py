"""Transactional writes of one file's outcome: a document never appears half-written."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document, utcnow
from mnemo.catalog.writes import mark_for_index, new_document_id
from mnemo.chunking import chunk_id
from mnemo.embeddings.inputs import embed_hash
from mnemo.ingest.extract import Extracted


def save_extracted(
    session: Session,
    collection_id: int,
    source_id: int | None,
    document: Document | None,
    result: Extracted,
    pipeline_key: str,
) -> tuple[Document, int]:
    """Store a file's new state and replace only the chunks that changed.

    Returns the document and the number of chunks inserted.
    """
    now = utcnow()
    if document is None:
        document = Document(
            id=new_document_id(),
            collection_id=collection_id,
            path=result.path,
            status=result.status,
            created_at=now,
        )
        session.add(document)
    else:
        document = session.merge(document)
    document.source_id = source_id if source_id is not None else document.source_id
    document.content_hash = result.content_hash
    document.size = result.size
    document.mtime_ns = result.mtime_ns
    document.media_type = result.media_type or document.media_type
    document.parser = result.parser
    document.title = result.title
    document.status = result.status
    document.reason = result.reason
    document.pipeline_key = pipeline_key
    document.page_count = result.page_count
    document.meta = dict(result.metadata, **({"transient": True} if result.transient else {}))
    document.updated_at = now
    document.chunk_count = len(result.chunks)
    session.flush()
    inserted = _replace_chunks(session, document.id, result)
    mark_for_index(session, collection_id, document.id)
    return document, inserted


def _replace_chunks(session: Session, document_id: str, result: Extracted) -> int:
    old_ids = set(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))
    seen: Counter[str] = Counter()
    rows = []
    for draft in result.chunks:
        rows.append(
            {
                "id": chunk_id(document_id, draft.text_hash, seen[draft.text_hash]),
                "document_id": document_id,
                "ordinal": draft.ordinal,
                "text": draft.text,
                "text_hash": draft.text_hash,
                "heading_path": list(draft.heading_path),
                "page_start": draft.page_start,
                "page_end": draft.page_end,
                "char_start": draft.char_start,
                "char_end": draft.char_end,
                "token_count": draft.token_count,
                "embed_hash": embed_hash(result.title, draft.heading_path, draft.text),
            }
        )
        seen[draft.text_hash] += 1
    new_ids = {row["id"] for row in rows}
    stale = old_ids - new_ids
    if stale:
        session.execute(delete(Chunk).where(Chunk.id.in_(stale)))
    fresh = [row for row in rows if row["id"] not in old_ids]
    kept = [
        {k: v for k, v in row.items() if k not in ("text", "text_hash", "document_id")}
        for row in rows
        if row["id"] in old_ids
    ]
    if fresh:
        session.execute(insert(Chunk), fresh)
    if kept:
        session.execute(update(Chunk), kept)
    return len(fresh)

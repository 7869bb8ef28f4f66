"""Index rows built from the catalog: what the index should hold for a document.

Only chunks of documents whose current version is committed as ``indexed``
become rows, so the index can never hold more than the catalog vouches for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document, Embedding, document_time
from mnemo.embeddings.inputs import embed_hash, embedding_input

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class ChunkRow:
    """A chunk with the document fields the index filters on."""

    id: str
    document_id: str
    embed_hash: str
    content: str  # what is embedded and keyword-indexed: title, headings, passage
    path: str
    media_type: str | None
    mtime: float
    tags: list[str]

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "document_id": self.document_id,
            "path": self.path,
            "media_type": self.media_type,
            "mtime": self.mtime,
            "tags": self.tags,
        }


_COLUMNS = (
    Chunk.id,
    Chunk.document_id,
    Chunk.embed_hash,
    Chunk.text,
    Chunk.heading_path,
    Document.title,
    Document.path,
    Document.media_type,
    Document.mtime_ns,
    Document.meta,
)


def _row(raw: Any) -> ChunkRow:
    heading = list(raw.heading_path or [])
    tags = (raw.meta or {}).get("tags") or []
    return ChunkRow(
        id=raw.id,
        document_id=raw.document_id,
        embed_hash=raw.embed_hash or embed_hash(raw.title, heading, raw.text),
        content=embedding_input(raw.title, heading, raw.text),
        path=raw.path,
        media_type=raw.media_type,
        mtime=document_time(raw.meta, raw.mtime_ns),
        tags=[str(t) for t in tags],
    )


def _indexed_chunks(collection_id: int) -> Any:
    return (
        select(*_COLUMNS)
        .join(Document, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )


def chunks_of(session: Session, collection_id: int, document_ids: Sequence[str]) -> list[ChunkRow]:
    query = _indexed_chunks(collection_id).where(Chunk.document_id.in_(document_ids))
    return [_row(raw) for raw in session.execute(query.order_by(Chunk.document_id, Chunk.ordinal))]


def chunks_with_hashes(
    session: Session, collection_id: int, hashes: Iterable[str]
) -> list[ChunkRow]:
    query = _indexed_chunks(collection_id).where(Chunk.embed_hash.in_(list(hashes)))
    return [_row(raw) for raw in session.execute(query)]


def _unembedded(collection_id: int, embedder_key: str) -> Any:
    embedded = select(Embedding.embed_hash).where(
        Embedding.embedder_key == embedder_key, Embedding.embed_hash == Chunk.embed_hash
    )
    return _indexed_chunks(collection_id).where(~embedded.exists())


def missing_embeddings(
    session: Session, collection_id: int, embedder_key: str, limit: int
) -> list[ChunkRow]:
    """Chunks whose embedding input has no vector from this embedder yet."""
    query = _unembedded(collection_id, embedder_key).limit(limit)
    return [_row(raw) for raw in session.execute(query)]


def count_missing(session: Session, collection_id: int, embedder_key: str) -> int:
    inner = _unembedded(collection_id, embedder_key).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def count_chunks(session: Session, collection_id: int) -> int:
    inner = _indexed_chunks(collection_id).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def chunk_ids(session: Session, collection_id: int) -> set[str]:
    query = (
        select(Chunk.id)
        .join(Document, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )
    return set(session.scalars(query))


def embedded_chunk_ids(session: Session, collection_id: int, embedder_key: str) -> set[str]:
    query = (
        select(Chunk.id)
        .join(Document, Chunk.document_id == Document.id)
        .join(
            Embedding,
            (Embedding.embed_hash == Chunk.embed_hash) & (Embedding.embedder_key == embedder_key),
        )
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )
    return set(session.scalars(query))


def count_embedded(session: Session, collection_id: int, embedder_key: str) -> int:
    """Chunks of the collection with a vector from this embedder (what its table should hold)."""
    query = (
        select(func.count(Chunk.id))
        .join(Document, Chunk.document_id == Document.id)
        .join(
            Embedding,
            (Embedding.embed_hash == Chunk.embed_hash) & (Embedding.embedder_key == embedder_key),
        )
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )
    return int(session.scalar(query) or 0)


def vectors_for(
    session: Session, embedder_key: str, hashes: Iterable[str]
) -> dict[str, bytes]:
    wanted = list(set(hashes))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), 500):
        query = select(Embedding.embed_hash, Embedding.vector).where(
            Embedding.embedder_key == embedder_key,
            Embedding.embed_hash.in_(wanted[start : start + 500]),
        )
        found.update({h: v for h, v in session.execute(query)})
    return found


# -- Arrow tables -------------------------------------------------------------------


def text_table(rows: Sequence[ChunkRow]) -> pa.Table:
    import pyarrow as pa

    from mnemo.index.lance import text_schema

    columns = _metadata_columns(rows)
    columns["content"] = [r.content for r in rows]
    return pa.Table.from_pydict(columns, schema=text_schema())


def vector_table_rows(
    rows: Sequence[ChunkRow], vectors: np.ndarray, dimension: int
) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    from mnemo.index.lance import vector_schema

    schema = vector_schema(dimension)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    columns: dict[str, Any] = _metadata_columns(rows)
    columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, dimension)
    return pa.Table.from_pydict(columns, schema=schema)


def _metadata_columns(rows: Sequence[ChunkRow]) -> dict[str, Any]:
    return {
        "id": [r.id for r in rows],
        "document_id": [r.document_id for r in rows],
        "path": [r.path for r in rows],
        "media_type": [r.media_type for r in rows],
        "mtime": [r.mtime for r in rows],
        "tags": [r.tags for r in rows],
    }

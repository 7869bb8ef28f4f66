"""Read-only accounts of what the catalog holds: per collection, per document."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mnemo.catalog.documents import DocumentState
from mnemo.catalog.models import (
    Chunk,
    Collection,
    CollectionEmbedder,
    Document,
    Embedding,
    Run,
    Source,
)


@dataclass(frozen=True)
class LastRun:
    id: int
    command: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any]


@dataclass(frozen=True)
class EmbeddingStatus:
    embedder: str
    state: str  # active: serves queries; building: being filled in to replace it
    embedded: int  # chunks with a vector from this embedder, in the catalog
    indexed: int | None = None  # rows of its vector table in the search index (None: not read)


@dataclass(frozen=True)
class IndexHealth:
    """What a collection's search index holds against what the catalog expects
    (filled in by :mod:`mnemo.index.health`)."""

    text_rows: int  # rows keyword search can find
    expected_text_rows: int  # chunks of indexed documents in the catalog
    vector_rows: dict[str, int]  # by embedder key
    expected_vector_rows: dict[str, int]
    pending_documents: int  # queued for the index: a run is writing them, or was interrupted
    missing: bool  # the index (folder or keyword table) is gone while the catalog has chunks
    damaged: bool = False  # the index cannot be read (searches fail until it is rebuilt)
    problems: list[str] = field(default_factory=list)  # what is wrong and what to run


@dataclass(frozen=True)
class CollectionStatus:
    name: str
    sources: int
    documents: dict[str, int]  # by state: indexed, skipped, failed
    chunks: int
    last_run: LastRun | None
    embeddings: list[EmbeddingStatus]
    index: IndexHealth | None = None  # None: the index was not read


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    path: str
    state: DocumentState
    reason: str | None
    title: str | None
    media_type: str | None
    size: int
    chunks: int
    pages: int | None
    updated_at: datetime
    tags: list[str]

    @property
    def status(self) -> DocumentState:
        """The same as ``state`` (its name before 0.2)."""
        return self.state


def collection_status(session: Session, collection: Collection) -> CollectionStatus:
    by_status = dict.fromkeys(("indexed", "skipped", "failed"), 0)
    for state, count in session.execute(
        select(Document.status, func.count())
        .where(Document.collection_id == collection.id)
        .group_by(Document.status)
    ):
        by_status[state] = count
    chunks = session.scalar(
        select(func.count(Chunk.id))
        .join(Document, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection.id)
    )
    sources = session.scalar(
        select(func.count(Source.id)).where(Source.collection_id == collection.id)
    )
    run = session.scalar(
        select(Run).where(Run.collection_id == collection.id).order_by(Run.id.desc()).limit(1)
    )
    last = None
    if run is not None:
        last = LastRun(
            run.id, run.command, run.status, run.started_at, run.finished_at, dict(run.counts)
        )
    return CollectionStatus(
        collection.name, sources or 0, by_status, chunks or 0, last, _embeddings(session, collection)
    )


def _embeddings(session: Session, collection: Collection) -> list[EmbeddingStatus]:
    found = []
    for row in session.scalars(
        select(CollectionEmbedder)
        .where(CollectionEmbedder.collection_id == collection.id)
        .order_by(CollectionEmbedder.state)
    ):
        embedded = session.scalar(
            select(func.count(Chunk.id))
            .join(Document, Chunk.document_id == Document.id)
            .join(
                Embedding,
                (Embedding.embed_hash == Chunk.embed_hash) & (Embedding.embedder_key == row.key),
            )
            .where(Document.collection_id == collection.id, Document.status == "indexed")
        )
        found.append(EmbeddingStatus(row.key, row.state, embedded or 0))
    return found


def list_documents(
    session: Session, collection: Collection, status: str | None = None
) -> list[DocumentInfo]:
    query = select(Document).where(Document.collection_id == collection.id)
    if status is not None:
        query = query.where(Document.status == status)
    return [document_info(doc) for doc in session.scalars(query.order_by(Document.path))]


#: What a page of documents may be sorted by: the column behind each name.
DOCUMENT_SORTS = {
    "path": Document.path,
    "state": Document.status,
    "chunks": Document.chunk_count,
    "pages": Document.page_count,
    "size": Document.size,
    "indexed": Document.updated_at,
}


@dataclass(frozen=True)
class DocumentPage:
    """One page of a collection's documents and how many match in all."""

    total: int
    offset: int
    items: list[DocumentInfo]


def page_documents(
    session: Session,
    collection: Collection,
    *,
    state: str | None = None,
    contains: str | None = None,
    sort: str = "path",
    descending: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> DocumentPage:
    """At most ``limit`` documents from ``offset``, sorted by one of :data:`DOCUMENT_SORTS`
    (then by path); only those in ``state`` and whose path contains ``contains`` (any case)."""
    if sort not in DOCUMENT_SORTS:
        raise ValueError(f"cannot sort documents by {sort!r}: use one of {', '.join(DOCUMENT_SORTS)}")
    where = [Document.collection_id == collection.id]
    if state is not None:
        where.append(Document.status == state)
    if contains:
        escaped = contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Document.path.ilike(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(Document).where(*where)) or 0
    column = DOCUMENT_SORTS[sort]
    order = [column.desc() if descending else column.asc(), Document.path.asc()]
    query = select(Document).where(*where).order_by(*order).offset(max(0, offset)).limit(limit)
    return DocumentPage(total, max(0, offset), [document_info(doc) for doc in session.scalars(query)])


def document_info(doc: Document) -> DocumentInfo:
    return DocumentInfo(
        id=doc.id,
        path=doc.path,
        state=DocumentState(doc.status),
        reason=doc.reason,
        title=doc.title,
        media_type=doc.media_type,
        size=doc.size,
        chunks=doc.chunk_count,
        pages=doc.page_count,
        updated_at=doc.updated_at,
        tags=list((doc.meta or {}).get("tags", [])),
    )


@dataclass(frozen=True)
class Deployment:
    """Where a home's collections live, and the ingestion queue of every server process
    sharing its catalog (issue 19). No password is ever part of it."""

    catalog_backend: str  # sqlite or postgresql
    catalog: str  # the SQLite file, or the database URL with its password hidden
    index_backend: str  # lancedb, milvus, or a plugin's name
    index: str  # the index folder, Milvus server or file (see mnemo.index.location)
    jobs_queued: int  # ingestion jobs waiting, submitted to any server process
    jobs_running: int  # ingestion jobs running, in any server process

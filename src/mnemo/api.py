"""Mnemo's Python API: the functions every front end calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mnemo.catalog import Catalog, Chunk, Collection, Document
from mnemo.catalog.models import Source
from mnemo.catalog.summary import (
    CollectionStatus,
    DocumentInfo,
    collection_status,
    document_info,
    list_documents,
)
from mnemo.config import Settings
from mnemo.errors import SourceError
from mnemo.ingest.events import EventHandler
from mnemo.ingest.report import RunReport
from mnemo.ingest.sources import get_collection, list_sources, normalise_path, upsert_source
from mnemo.ingest.sync import Syncer
from mnemo.retrieval.filters import Filters

if TYPE_CHECKING:
    from mnemo.catalog.jobs import JobInfo
    from mnemo.generation.ask import TextHandler
    from mnemo.generation.types import Answer
    from mnemo.retrieval.search import SearchResponse


def open_catalog(settings: Settings) -> Catalog:
    return Catalog(settings.catalog_path)


def add(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    collection: str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    on_event: EventHandler | None = None,
    confine: Sequence[Path] | None = None,
) -> RunReport:
    """Add files or folders to a collection (created if new) and index them.

    With ``confine`` (a server's readable folders), no file that resolves outside
    those folders is read, whatever symbolic links lead to it.
    """
    if not paths:
        raise SourceError("nothing to add: give at least one file or folder")
    name = collection or settings.collection
    resolved = []
    for raw in paths:
        path = normalise_path(raw)
        if not Path(path).exists():
            raise SourceError(f"{raw}: no such file or folder")
        resolved.append(path)
    with open_catalog(settings) as catalog:
        with catalog.session() as session:
            coll = get_collection(session, name, create=True)
        syncer = Syncer(settings, catalog, coll, on_event, confine)
        # Sources are registered under the lock: an add refused as busy leaves none behind.
        with syncer.locked():
            with catalog.session() as session:
                sources = [
                    upsert_source(session, coll, path, list(include), list(exclude))
                    for path in resolved
                ]
            return syncer.run_locked("add", sources)


def sync(
    settings: Settings,
    *,
    collection: str | None = None,
    paths: Iterable[str] | None = None,
    on_event: EventHandler | None = None,
    lock_timeout: float = 5.0,
) -> RunReport:
    """Re-scan a collection's sources; with ``paths``, only those paths."""
    name = collection or settings.collection
    with open_catalog(settings) as catalog:
        with catalog.session() as session:
            coll = get_collection(session, name)
            sources = list_sources(session, coll)
        only = [normalise_path(p) for p in paths] if paths is not None else None
        command = "sync" if only is None else "watch"
        return Syncer(settings, catalog, coll, on_event).run(
            command, sources, only, lock_timeout=lock_timeout
        )


def remove_source(settings: Settings, path: str, *, collection: str | None = None) -> int:
    """Forget a source and every document found through it; returns documents removed."""
    from mnemo.catalog.writes import delete_document

    name = collection or settings.collection
    target = normalise_path(path)
    with open_catalog(settings) as catalog, catalog.session() as session:
        coll = get_collection(session, name)
        source = session.scalar(
            select(Source).where(Source.collection_id == coll.id, Source.path == target)
        )
        if source is None:
            known = ", ".join(s.path for s in list_sources(session, coll)) or "none"
            raise SourceError(f"{path}: not a source of collection {name!r} (sources: {known})")
        ids = list(session.scalars(select(Document.id).where(Document.source_id == source.id)))
        for doc_id in ids:
            delete_document(session, doc_id)
        session.delete(source)
        return len(ids)


def sources(settings: Settings, *, collection: str | None = None) -> list[Source]:
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        return list_sources(session, get_collection(session, collection or settings.collection))


def status(
    settings: Settings, *, collection: str | None = None, check_index: bool = True
) -> list[CollectionStatus]:
    """Per-collection totals; all collections unless one is named.

    With ``check_index``, each collection's search index is read and compared
    with the catalog (``CollectionStatus.index``, ``EmbeddingStatus.indexed``).
    """
    with open_catalog(settings) as catalog:
        with catalog.session(readonly=True) as session:
            if collection is not None:
                collections = [get_collection(session, collection)]
            else:
                collections = list(session.scalars(select(Collection).order_by(Collection.name)))
            found = [(c, collection_status(session, c)) for c in collections]
        if not check_index:
            return [item for _, item in found]
        return [_with_index(settings, catalog, coll, item) for coll, item in found]


def _with_index(
    settings: Settings, catalog: Catalog, coll: Collection, item: CollectionStatus
) -> CollectionStatus:
    """``item`` with what the collection's search index really holds."""
    from dataclasses import replace

    from mnemo.index import health

    found = health.check_collection(settings, catalog, coll)
    embeddings = [replace(e, indexed=found.vector_rows.get(e.embedder)) for e in item.embeddings]
    return replace(item, embeddings=embeddings, index=found)


def documents(
    settings: Settings, *, collection: str | None = None, state: str | None = None
) -> list[DocumentInfo]:
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        coll = get_collection(session, collection or settings.collection)
        return list_documents(session, coll, state)


def search(
    query: str,
    settings: Settings,
    *,
    collection: str | None = None,
    k: int = 10,
    mode: str | None = None,
    filters: Filters | None = None,
    rerank: bool | None = None,
) -> SearchResponse:
    """The ``k`` passages that best answer ``query``: see :mod:`mnemo.retrieval.search`."""
    from mnemo.retrieval.search import search as run_search

    return run_search(
        query,
        settings,
        collection=collection,
        k=k,
        mode=mode,  # type: ignore[arg-type]
        filters=filters,
        rerank=rerank,
    )


def ask(
    question: str,
    settings: Settings,
    *,
    collection: str | None = None,
    documents: Sequence[str] = (),
    filters: Filters | None = None,
    mode: str | None = None,
    use_llm: bool | None = None,
    conversation_id: str | None = None,
    on_text: TextHandler | None = None,
) -> Answer:
    """Answer ``question`` from a collection with checked citations: see
    :mod:`mnemo.generation.ask`. Extractive (offline) when no LLM is configured."""
    from mnemo.generation.ask import ask as run_ask

    return run_ask(
        question,
        settings,
        collection=collection,
        documents=documents,
        filters=filters,
        mode=mode,
        use_llm=use_llm,
        conversation_id=conversation_id,
        on_text=on_text,
    )


def reindex(settings: Settings, *, collection: str | None = None) -> int:
    """Rebuild a collection's search index from the catalog; returns documents written.

    Stored vectors are reused: nothing is parsed or embedded again.
    """
    from mnemo.index.updater import IndexUpdater
    from mnemo.ingest.sync import collection_lock

    name = collection or settings.collection
    with open_catalog(settings) as catalog:
        with catalog.session(readonly=True) as session:
            coll = get_collection(session, name)
        with collection_lock(settings, name, 5.0):
            return IndexUpdater(settings, catalog, coll).rebuild()


def create_collection(settings: Settings, name: str) -> CollectionStatus:
    """Create an empty collection; CollectionError if the name is invalid or taken."""
    from mnemo.errors import CollectionExistsError

    with open_catalog(settings) as catalog, catalog.session() as session:
        if session.scalar(select(Collection).where(Collection.name == name)) is not None:
            raise CollectionExistsError(f"collection {name!r} already exists")
        return collection_status(session, get_collection(session, name, create=True))


def delete_collection(settings: Settings, name: str) -> None:
    """Forget a collection: its catalog rows and its search index (files are not touched)."""
    from mnemo.index import forget_reader, open_store
    from mnemo.ingest.sync import collection_lock

    with open_catalog(settings) as catalog, collection_lock(settings, name, 5.0):
        with catalog.session() as session:
            session.delete(get_collection(session, name))
        forget_reader(settings, name)
        open_store(settings, name).drop_all()


def document(
    settings: Settings, document_id: str, *, collection: str | None = None
) -> tuple[DocumentInfo, list[Chunk]]:
    """One document's catalog entry and its chunks in order."""
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        coll = get_collection(session, collection or settings.collection)
        info = _document_info(session, coll, document_id)
        chunks = session.scalars(
            select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.ordinal)
        )
        return info, list(chunks)


def remove_document(settings: Settings, document_id: str, *, collection: str | None = None) -> str:
    """Remove one document from the catalog and the search index; returns its path.

    A file still below a source comes back at the next sync; uploads are deleted with it.
    """
    from mnemo.catalog.writes import delete_document
    from mnemo.index.updater import IndexUpdater
    from mnemo.ingest.sync import collection_lock

    name = collection or settings.collection
    with open_catalog(settings) as catalog, collection_lock(settings, name, 30.0):
        with catalog.session() as session:
            coll = get_collection(session, name)
            path = _document_info(session, coll, document_id).path
            delete_document(session, document_id)
            session.execute(
                delete(Source).where(Source.collection_id == coll.id, Source.path == path)
            )
        IndexUpdater(settings, catalog, coll).flush()
    return path


def _document_info(session: Session, coll: Collection, document_id: str) -> DocumentInfo:
    from mnemo.errors import DocumentError

    doc = session.get(Document, document_id)
    if doc is None or doc.collection_id != coll.id:
        raise DocumentError(f"no document {document_id!r} in collection {coll.name!r}")
    return document_info(doc)


def jobs(settings: Settings, *, collection: str | None = None) -> list[JobInfo]:
    """The server's ingestion jobs, newest first; of one collection, or of all."""
    from mnemo.catalog.jobs import list_jobs

    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        coll = get_collection(session, collection) if collection is not None else None
        return list_jobs(session, coll)


def cancel_job(settings: Settings, job_id: str) -> JobInfo:
    """Cancel a queued ingestion job, or ask a running one to stop at its next file."""
    from mnemo.catalog.jobs import cancel_job as cancel

    with open_catalog(settings) as catalog, catalog.session() as session:
        return cancel(session, job_id)

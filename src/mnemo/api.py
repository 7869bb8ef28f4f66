"""Module-level conveniences: each opens a short-lived :class:`~mnemo.library.Library`.

``mnemo.search(query)`` is ``Library(settings).search(query)`` for a single call,
the way ``httpx.get`` sits over ``httpx.Client``. Every function takes its
subject first (paths, a query, a name or id), then ``settings`` (default: the
settings :func:`mnemo.load_settings` builds), then keyword options. For more
than one call, use a Library: it keeps the catalog open and models loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemo.config import Settings
from mnemo.library import Library

if TYPE_CHECKING:
    from mnemo.catalog import Chunk
    from mnemo.catalog.jobs import JobInfo
    from mnemo.catalog.models import Source
    from mnemo.catalog.summary import CollectionStatus, DocumentInfo
    from mnemo.generation.types import Answer
    from mnemo.report import RunReport
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.search import SearchHit, SearchResponse


def add(paths: Sequence[Path | str], settings: Settings | None = None, **options: Any) -> RunReport:
    """Add files or folders to a collection (created if new) and index them."""
    with Library(settings) as library:
        return library.add(paths, **options)


def sync(
    settings: Settings | None = None, *, paths: Iterable[str] | None = None, **options: Any
) -> RunReport:
    """Re-scan a collection's sources; with ``paths``, only those paths."""
    with Library(settings) as library:
        return library.sync(paths=paths, **options)


def search(query: str, settings: Settings | None = None, **options: Any) -> SearchResponse:
    """The passages that best answer ``query``: see :meth:`Library.search`."""
    with Library(settings) as library:
        return library.search(query, **options)


def ask(question: str, settings: Settings | None = None, **options: Any) -> Answer:
    """Answer ``question`` with checked citations: see :meth:`Library.ask`."""
    with Library(settings) as library:
        return library.ask(question, **options)


def assemble_context(
    hits: Sequence[SearchHit], settings: Settings | None = None, **options: Any
) -> list[ContextPassage]:
    """Passages for ``hits`` within a token budget: see :meth:`Library.context`."""
    with Library(settings) as library:
        return library.context(hits, **options)


def status(settings: Settings | None = None, **options: Any) -> list[CollectionStatus]:
    """Per-collection totals: see :meth:`Library.status`."""
    with Library(settings) as library:
        return library.status(**options)


def sources(settings: Settings | None = None, **options: Any) -> list[Source]:
    """The paths a collection reads from, with their globs."""
    with Library(settings) as library:
        return library.sources(**options)


def remove_source(path: str, settings: Settings | None = None, **options: Any) -> int:
    """Forget a source and every document found through it; returns documents removed."""
    with Library(settings) as library:
        return library.remove_source(path, **options)


def documents(settings: Settings | None = None, **options: Any) -> list[DocumentInfo]:
    """A collection's documents with their state: see :meth:`Library.documents`."""
    with Library(settings) as library:
        return library.documents(**options)


def document(
    name: str, settings: Settings | None = None, **options: Any
) -> tuple[DocumentInfo, list[Chunk]]:
    """One document (by id, path, end of path or file name) and its chunks."""
    with Library(settings) as library:
        return library.document(name, **options)


def remove_document(name: str, settings: Settings | None = None, **options: Any) -> str:
    """Remove one document from the catalog and the search index; returns its path."""
    with Library(settings) as library:
        return library.remove_document(name, **options)


def reindex(settings: Settings | None = None, **options: Any) -> int:
    """Rebuild a collection's search index from the catalog, re-embedding nothing."""
    with Library(settings) as library:
        return library.reindex(**options)


def create_collection(name: str, settings: Settings | None = None) -> CollectionStatus:
    """Create an empty collection; CollectionError if the name is invalid or taken."""
    with Library(settings) as library:
        return library.create_collection(name)


def rename_collection(
    name: str, new_name: str, settings: Settings | None = None
) -> CollectionStatus:
    """Give a collection a new name; its index is written again from the catalog."""
    with Library(settings) as library:
        return library.rename_collection(name, new_name)


def delete_collection(name: str, settings: Settings | None = None) -> None:
    """Forget a collection and its search index (the files are not touched)."""
    with Library(settings) as library:
        library.delete_collection(name)


def jobs(settings: Settings | None = None, **options: Any) -> list[JobInfo]:
    """The server's ingestion jobs, newest first."""
    with Library(settings) as library:
        return library.jobs(**options)


def cancel_job(job_id: str, settings: Settings | None = None) -> JobInfo:
    """Cancel a queued job, or ask a running one to stop at its next file."""
    with Library(settings) as library:
        return library.cancel_job(job_id)

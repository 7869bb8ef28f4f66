"""Does a collection's search index hold what the catalog says it should?

The check compares row counts: the keyword table against the chunks of indexed
documents, each vector table against the chunks with a stored vector from that
embedder. Counting in the catalog costs milliseconds at 200k chunks, so a
result is kept per index version (every write, compaction or rebuild of a
table makes a new one) and per length of the index outbox; a warm search pays
a directory listing, one version read per table and one small catalog query.

While documents are queued for the index (a run is writing them, or was
interrupted) the counts may differ legitimately, so no problem is reported
then: the next run writes them.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from mnemo.catalog.models import CollectionEmbedder, IndexPending
from mnemo.catalog.summary import IndexHealth
from mnemo.errors import IndexDamagedError
from mnemo.index import rows as catalog_rows
from mnemo.index.base import TEXT, Store, vector_table

if TYPE_CHECKING:
    from mnemo.catalog import Catalog, Collection
    from mnemo.config import Settings

#: Checks that had to count (for tests and benchmarks: warm searches add none).
CACHE_MISSES = 0
_cache: dict[tuple[Path, int], tuple[object, IndexHealth]] = {}
_lock = threading.Lock()


def check_collection(settings: Settings, catalog: Catalog, collection: Collection) -> IndexHealth:
    """:func:`check` on the handle kept for searches; an unreadable result is checked
    again on a fresh handle (the kept one may predate a rebuild by another process)."""
    from mnemo.index import forget_reader, reader

    found = check(catalog, collection, reader(settings, collection.name))
    if found.damaged:
        forget_reader(settings, collection.name)
        found = check(catalog, collection, reader(settings, collection.name))
    return found


def check(catalog: Catalog, collection: Collection, store: Store) -> IndexHealth:
    """The index of ``collection`` (in ``store``) against the catalog."""
    global CACHE_MISSES
    with catalog.session(readonly=True) as session:
        pending = int(
            session.scalar(
                select(func.count(func.distinct(IndexPending.document_id))).where(
                    IndexPending.collection_id == collection.id
                )
            )
            or 0
        )
    try:
        versions = store.versions()
    except IndexDamagedError as exc:
        return _unreadable(pending, exc)
    slot = (store.root.resolve(), collection.id)
    key = (tuple(sorted(versions.items())), pending)
    with _lock:
        cached = _cache.get(slot)
    if cached is not None and cached[0] == key:
        return cached[1]
    CACHE_MISSES += 1
    try:
        # The index first, then the catalog: the catalog is written first
        # everywhere, so a count read in between shows the index behind (and
        # the index's next write, a new version, checks again), never ahead.
        text_rows = store.count(TEXT) if TEXT in versions else 0
        with catalog.session(readonly=True) as session:
            keys = list(
                session.scalars(
                    select(CollectionEmbedder.key).where(
                        CollectionEmbedder.collection_id == collection.id
                    )
                )
            )
        vector_rows = {
            k: store.count(vector_table(k)) if vector_table(k) in versions else 0 for k in keys
        }
    except IndexDamagedError as exc:
        return _unreadable(pending, exc)
    with catalog.session(readonly=True) as session:
        expected_text = catalog_rows.count_chunks(session, collection.id)
        expected_vectors = {k: catalog_rows.count_embedded(session, collection.id, k) for k in keys}
    health = IndexHealth(
        text_rows=text_rows,
        expected_text_rows=expected_text,
        vector_rows=vector_rows,
        expected_vector_rows=expected_vectors,
        pending_documents=pending,
        missing=expected_text > 0 and text_rows == 0,
    )
    health = replace(health, problems=_problems(collection.name, store.root, health))
    with _lock:
        _cache[slot] = (key, health)
    return health


def _problems(name: str, root: Path, health: IndexHealth) -> list[str]:
    if health.missing:
        return [
            f"the search index of collection {name!r} is missing ({root}) while the catalog has "
            f"{health.expected_text_rows:,} chunks: searches find nothing until it is rebuilt "
            "(the next search or `mnemo sync` does it; `mnemo reindex` rebuilds it now)"
        ]
    if health.pending_documents:
        return []  # a run is writing (or was interrupted): the next run catches up
    problems = []
    if health.text_rows != health.expected_text_rows:
        problems.append(
            f"the keyword index of collection {name!r} holds {health.text_rows:,} of "
            f"{health.expected_text_rows:,} chunks: run `mnemo sync` to repair it"
        )
    for key, expected in health.expected_vector_rows.items():
        held = health.vector_rows.get(key, 0)
        if held != expected:
            problems.append(
                f"the vectors of {key} in collection {name!r} hold {held:,} of "
                f"{expected:,} chunks: run `mnemo sync` to repair them"
            )
    return problems


def _unreadable(pending: int, exc: IndexDamagedError) -> IndexHealth:
    return IndexHealth(
        text_rows=0,
        expected_text_rows=0,
        vector_rows={},
        expected_vector_rows={},
        pending_documents=pending,
        missing=False,
        damaged=True,
        problems=[str(exc)],
    )


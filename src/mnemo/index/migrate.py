"""Moving a data directory's collections to other backends, without re-embedding.

``mnemo migrate --to catalog.url=… --to index.backend=milvus`` (and back):

1. the catalog is copied row for row when the target names another one
   (:mod:`mnemo.catalog.copy`); the vectors live in it, so nothing is embedded;
2. each collection's index is written in the target store from the target
   catalog (the same path as ``mnemo reindex``);
3. the copy is checked: catalog row counts equal, index row counts equal to
   the catalog's, and on a sample of chunks, exact nearest-neighbour search by
   the chunk's own stored vector returns the same chunks with the same scores
   in the source and the target index. Keyword results are compared too:
   identical when both sides use the same store, reported as an overlap when
   they differ (LanceDB and Milvus tokenise text differently).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from mnemo.catalog import Catalog, Chunk, Collection, Document
from mnemo.catalog.copy import copy_catalog, table_counts
from mnemo.catalog.models import CollectionEmbedder
from mnemo.config import Settings
from mnemo.errors import ConfigError, MnemoError
from mnemo.index import open_store
from mnemo.index import rows as catalog_rows
from mnemo.index.base import TEXT, Hit, Store, vector_table
from mnemo.index.updater import IndexUpdater


@dataclass
class CollectionCheck:
    name: str
    chunks: int
    text_rows: tuple[int, int]  # source, target
    vector_rows: dict[str, tuple[int, int]]
    dense_identical: int = 0  # sampled queries with the same exact top 10
    dense_sampled: int = 0
    keyword_overlap: float = 1.0  # mean overlap@10 of keyword results
    keyword_sampled: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class MigrationReport:
    catalog_copied: dict[str, int] | None  # rows per table; None when the catalog stayed
    collections: list[CollectionCheck]

    @property
    def ok(self) -> bool:
        return all(not c.problems for c in self.collections)


def _catalog_url(settings: Settings) -> str | None:
    return settings.catalog.url.get_secret_value() if settings.catalog.url else None


def _store_identity(settings: Settings) -> tuple[str, str]:
    index = settings.index
    if index.backend == "milvus":
        return "milvus", index.milvus_uri or str(settings.index_path / "milvus.db")
    return index.backend, str(settings.index_path)


def migrate(
    source: Settings,
    source_catalog: Catalog,
    target: Settings,
    target_catalog: Catalog | None,
    *,
    collections: list[str] | None = None,
    sample: int = 20,
) -> MigrationReport:
    """Copy ``collections`` (default: all) from ``source``'s backends to ``target``'s.

    ``target_catalog`` is None when the catalog stays where it is.
    """
    same_catalog = target_catalog is None
    if same_catalog and _store_identity(source) == _store_identity(target):
        raise ConfigError(
            "migrate: the target is where the data already is; name another catalog "
            "(--to catalog.url=...) or index (--to index.backend=milvus ...)"
        )
    copied = None
    if target_catalog is not None:
        for updater in _updaters(source, source_catalog, collections):
            updater.flush()  # the source index complete before it is compared
        copied = copy_catalog(source_catalog, target_catalog)
        before, after = table_counts(source_catalog), table_counts(target_catalog)
        if before != after:
            raise MnemoError(f"migrate: catalog rows differ after the copy: {before} != {after}")
    dest_catalog = target_catalog or source_catalog
    checks = []
    for name in _names(dest_catalog, collections):
        with dest_catalog.session(readonly=True) as session:
            coll = session.scalars(select(Collection).where(Collection.name == name)).one()
        IndexUpdater(target, dest_catalog, coll).rebuild()
        checks.append(
            _check(
                name,
                coll.id,
                source_catalog,
                open_store(source, name),
                dest_catalog,
                open_store(target, name),
                sample,
                same_kind=source.index.backend == target.index.backend,
            )
        )
    return MigrationReport(copied, checks)


def _names(catalog: Catalog, wanted: list[str] | None) -> list[str]:
    with catalog.session(readonly=True) as session:
        known = list(session.scalars(select(Collection.name).order_by(Collection.name)))
    if not wanted:
        return known
    missing = [n for n in wanted if n not in known]
    if missing:
        raise ConfigError(
            f"migrate: no collection named {missing[0]!r} (known: {', '.join(known)})"
        )
    return wanted


def _updaters(settings: Settings, catalog: Catalog, wanted: list[str] | None) -> list[IndexUpdater]:
    out = []
    for name in _names(catalog, wanted):
        with catalog.session(readonly=True) as session:
            coll = session.scalars(select(Collection).where(Collection.name == name)).one()
        out.append(IndexUpdater(settings, catalog, coll))
    return out


def _check(
    name: str,
    collection_id: int,
    source_catalog: Catalog,
    source: Store,
    target_catalog: Catalog,
    target: Store,
    sample: int,
    *,
    same_kind: bool,
) -> CollectionCheck:
    with target_catalog.session(readonly=True) as session:
        chunks = catalog_rows.count_chunks(session, collection_id)
        keys = [
            (k, d)
            for k, d in session.execute(
                select(CollectionEmbedder.key, CollectionEmbedder.dimension).where(
                    CollectionEmbedder.collection_id == collection_id
                )
            )
        ]
        total = (
            session.scalar(
                select(func.count(Chunk.id))
                .join(Document, Chunk.document_id == Document.id)
                .where(Document.collection_id == collection_id, Document.status == "indexed")
            )
            or 0
        )
        step = max(1, total // max(1, sample))
        picked = list(
            session.scalars(
                select(Chunk.id)
                .join(Document, Chunk.document_id == Document.id)
                .where(Document.collection_id == collection_id, Document.status == "indexed")
                .order_by(Chunk.id)
            )
        )[::step][:sample]
        rows = catalog_rows.chunks_of(
            session,
            collection_id,
            list(session.scalars(select(Chunk.document_id).where(Chunk.id.in_(picked)).distinct())),
        )
        by_id = {r.id: r for r in rows if r.id in set(picked)}
        vectors = {
            key: catalog_rows.vectors_for(session, key, (r.embed_hash for r in by_id.values()))
            for key, _ in keys
        }
    check = CollectionCheck(
        name,
        chunks,
        (source.count(TEXT), target.count(TEXT)),
        {k: (source.count(vector_table(k)), target.count(vector_table(k))) for k, _ in keys},
    )
    if check.text_rows != (chunks, chunks):
        check.problems.append(f"text rows {check.text_rows} for {chunks} chunks in the catalog")
    for key, (src, dst) in check.vector_rows.items():
        if src != dst:
            check.problems.append(f"{vector_table(key)}: {src} rows in the source, {dst} now")
    import numpy as np

    for key, _ in keys:
        for row in by_id.values():
            stored = vectors[key].get(row.embed_hash)
            if stored is None:
                continue
            query = np.frombuffer(stored, dtype=np.float32)
            a = source.dense(key, query, None, 10, 1, 1, exact=True)
            b = target.dense(key, query, None, 10, 1, 1, exact=True)
            check.dense_sampled += 1
            if _same_ranking(a, b):
                check.dense_identical += 1
            else:
                check.problems.append(f"dense search for chunk {row.id} differs")
    overlaps = []
    for row in by_id.values():
        words = " ".join(row.content.split()[:8])
        a = {h.chunk_id for h in source.keyword(words, None, 10)}
        b = {h.chunk_id for h in target.keyword(words, None, 10)}
        if not a and not b:
            continue
        overlaps.append(len(a & b) / max(len(a), len(b)))
        if same_kind and a != b:
            check.problems.append(f"keyword search {words!r} differs")
    check.keyword_sampled = len(overlaps)
    check.keyword_overlap = float(np.mean(overlaps)) if overlaps else 1.0
    return check


def _same_ranking(a: list[Hit], b: list[Hit]) -> bool:
    """The same scores rank by rank, and the same chunks wherever scores are not tied
    (chunks of equal text have equal vectors; their order among themselves is free)."""
    if len(a) != len(b):
        return False
    if any(abs(x.score - y.score) > 1e-4 for x, y in zip(a, b, strict=True)):
        return False
    last = a[-1].score if a else 0.0
    firm_a = {h.chunk_id for h in a if h.score > last + 1e-4}
    firm_b = {h.chunk_id for h in b if h.score > last + 1e-4}
    return firm_a == firm_b

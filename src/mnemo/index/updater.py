"""Keep a collection's search index in step with its catalog.

Three steps, each safe to interrupt and re-run:

1. **flush**: documents queued in the catalog's outbox (``index_pending``) get
   their rows rewritten from the catalog, so keyword search sees a file as
   soon as it is parsed;
2. **embed**: chunks whose embedding input has no vector from the
   collection's embedder(s) are embedded in length-sorted batches; vectors go
   to the catalog first, then to the index;
3. **finish**: full-text and vector indexes are brought up to date, files
   compacted and old versions deleted.

:meth:`IndexUpdater.heal` compares the index with the catalog and repairs any
difference a crash left behind, without re-embedding anything.

When the settings name a different embedder than the collection's, the new
one is ``building``: it is filled in while the ``active`` one keeps serving
queries, and takes over once it covers every chunk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from mnemo.catalog import Catalog, Collection
from mnemo.catalog.models import CollectionEmbedder, Embedding, IndexPending
from mnemo.catalog.writes import add_embeddings
from mnemo.config import Settings
from mnemo.embeddings import Embedder
from mnemo.embeddings.resolve import configured, load
from mnemo.errors import IndexDamagedError, MnemoError
from mnemo.index import forget_reader, open_store
from mnemo.index import rows as catalog_rows
from mnemo.index.base import TEXT, vector_table
from mnemo.events import Event, EventHandler
from mnemo.report import EmbeddingReport

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FLUSH_DOCUMENTS = 200  # documents rewritten per index commit
# Chunks embedded per catalog and index commit. Batches are sorted by length
# within a page, so a larger page pads less (1024: 4 % slower than one sort
# over 2,048 texts; 256: 20 %).
EMBED_PAGE = 4096


class IndexUpdater:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        collection: Collection,
        on_event: EventHandler | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.collection = collection
        self.on_event = on_event or (lambda event: None)
        self.store = open_store(settings, collection.name)
        self._last_flush = time.monotonic()

    # -- 1. flush -------------------------------------------------------------------

    def flush(self) -> int:
        """Rewrite the index rows of every queued document; returns documents written."""
        written = 0
        while True:
            with self.catalog.session(readonly=True) as session:
                queued = session.execute(
                    select(IndexPending.document_id, func.max(IndexPending.seq))
                    .where(IndexPending.collection_id == self.collection.id)
                    .group_by(IndexPending.document_id)
                    .limit(FLUSH_DOCUMENTS)
                ).all()
                if not queued:
                    break
                doc_ids = [doc_id for doc_id, _ in queued]
                chunks = catalog_rows.chunks_of(session, self.collection.id, doc_ids)
                vectors = {
                    key: self._vector_rows(session, key, dimension, chunks)
                    for key, dimension in self._embedder_keys(session)
                }
            self.store.replace_documents(doc_ids, catalog_rows.text_table(chunks), vectors)
            with self.catalog.session() as session:
                for doc_id, seq in queued:  # a newer change queued meanwhile stays queued
                    session.execute(
                        delete(IndexPending).where(
                            IndexPending.document_id == doc_id, IndexPending.seq <= seq
                        )
                    )
            written += len(doc_ids)
        self._last_flush = time.monotonic()
        return written

    def flush_every(self, seconds: float) -> None:
        """Flush if ``seconds`` have passed since the last flush (called while parsing)."""
        if time.monotonic() - self._last_flush >= seconds:
            self.flush()

    def _embedder_keys(self, session: object) -> list[tuple[str, int]]:
        rows = session.execute(  # type: ignore[attr-defined]
            select(CollectionEmbedder.key, CollectionEmbedder.dimension).where(
                CollectionEmbedder.collection_id == self.collection.id
            )
        )
        return [(key, dimension) for key, dimension in rows]

    @staticmethod
    def _vector_rows(
        session: object, key: str, dimension: int, chunks: Sequence[catalog_rows.ChunkRow]
    ) -> object:
        import numpy as np

        found = catalog_rows.vectors_for(session, key, (c.embed_hash for c in chunks))  # type: ignore[arg-type]
        have = [c for c in chunks if c.embed_hash in found]
        matrix = np.zeros((len(have), dimension), dtype=np.float32)
        for i, chunk in enumerate(have):
            matrix[i] = np.frombuffer(found[chunk.embed_hash], dtype=np.float32)
        return catalog_rows.vector_table_rows(have, matrix, dimension)

    # -- healing --------------------------------------------------------------------

    def heal(self) -> list[str]:
        """Repair what a crash or a damaged folder left; returns what was repaired."""
        repaired: list[str] = []
        try:
            repaired += self._heal_table(TEXT, None)
            with self.catalog.session(readonly=True) as session:
                keys = self._embedder_keys(session)
            wanted = {vector_table(key) for key, _ in keys}
            for stray in self.store.vector_tables() - wanted:
                self.store.drop_table(stray)
                repaired.append(f"dropped {stray}, which no embedder of the collection uses")
            for key, _ in keys:
                repaired += self._heal_table(vector_table(key), key)
        except IndexDamagedError as exc:
            log.warning("%s", exc)
            self.store.drop_all()
            self._queue_everything()
            repaired.append(f"rebuilt the index from the catalog ({exc})")
        if repaired:
            self.flush()
        return repaired

    def _heal_table(self, name: str, embedder_key: str | None) -> list[str]:
        with self.catalog.session(readonly=True) as session:
            if embedder_key is None:
                expected_count = catalog_rows.count_chunks(session, self.collection.id)
            else:
                expected_count = len(
                    catalog_rows.embedded_chunk_ids(session, self.collection.id, embedder_key)
                )
        # Reading every id also proves the table's files are all there.
        present = self.store.ids(name)
        if len(present) == expected_count == self.store.count(name):
            return []
        with self.catalog.session(readonly=True) as session:
            if embedder_key is None:
                expected = catalog_rows.chunk_ids(session, self.collection.id)
            else:
                expected = catalog_rows.embedded_chunk_ids(
                    session, self.collection.id, embedder_key
                )
        extra = sorted(present - expected)
        self.store.delete_ids(name, extra)
        missing = expected - present
        if missing or self.store.count(name) != len(expected):  # duplicates: rewrite all
            docs = self._documents_of(missing or expected)
            with self.catalog.session() as session:
                session.add_all(
                    IndexPending(collection_id=self.collection.id, document_id=d) for d in docs
                )
        return [f"{name}: {len(extra)} stale and {len(missing)} missing rows repaired"]

    def _documents_of(self, chunk_ids: set[str]) -> set[str]:
        from mnemo.catalog.models import Chunk

        ids = list(chunk_ids)
        docs: set[str] = set()
        with self.catalog.session(readonly=True) as session:
            for start in range(0, len(ids), 500):
                docs.update(
                    session.scalars(
                        select(Chunk.document_id).where(Chunk.id.in_(ids[start : start + 500]))
                    )
                )
        return docs

    def _queue_everything(self) -> None:
        from mnemo.catalog.models import Document

        with self.catalog.session() as session:
            doc_ids = session.scalars(
                select(Document.id).where(
                    Document.collection_id == self.collection.id, Document.status == "indexed"
                )
            )
            session.add_all(
                IndexPending(collection_id=self.collection.id, document_id=d) for d in doc_ids
            )

    def rebuild(self) -> int:
        """Drop the index and write it again from the catalog (no re-embedding)."""
        self.store.drop_all()
        self._queue_everything()
        written = self.flush()
        self.finish()
        return written

    # -- 2. embed -------------------------------------------------------------------

    def preload(self) -> None:
        """Load the embedder in a background thread, e.g. while workers parse:
        importing torch and the model takes seconds the embed step then saves.
        A failure is left for :meth:`embed` to report."""

        def load_quietly() -> None:
            try:
                record = configured(self.settings)
                if record is not None:
                    load(record, self.settings)
            except Exception:  # noqa: BLE001 - embed() loads again and says why
                log.debug("embedder preload failed", exc_info=True)

        threading.Thread(target=load_quietly, name="mnemo-embedder-preload", daemon=True).start()

    def embed(self) -> EmbeddingReport:
        """Embed what is missing for the collection's embedders; switch over when done."""
        report = EmbeddingReport()
        started = time.perf_counter()
        try:
            self._embed(report)
        except MnemoError as exc:
            report.error = str(exc)
        finally:
            report.seconds = time.perf_counter() - started
        with self.catalog.session(readonly=True) as session:
            report.pending = sum(
                catalog_rows.count_missing(session, self.collection.id, key)
                for key, _ in self._embedder_keys(session)
            )
        return report

    def _embed(self, report: EmbeddingReport) -> None:
        record = configured(self.settings)
        if record is None:
            report.notes.append("embedding is off (embedding.backend = none): keyword search only")
            return
        if self._settled(record):
            return
        target = load(record, self.settings)
        report.embedder = target.identity.key
        active, building, created = self._register(target, record)
        for row in created:
            report.reused += self._index_stored_vectors(row)
        if active.key != target.identity.key:
            # The old embedder keeps serving: give it the new chunks too, if it still loads.
            try:
                old = load(active.config, self.settings)
            except MnemoError as exc:
                report.notes.append(f"previous embedder unavailable for new chunks ({exc})")
            else:
                if old.identity.key == active.key:
                    report.embedded += self._embed_missing(active, old)
        current = building or active
        report.embedded += self._embed_missing(current, target)
        if building is not None:
            self._switch_if_complete(active, building, report)

    def _embedder_rows(self, session: object) -> list[CollectionEmbedder]:
        query = select(CollectionEmbedder).where(
            CollectionEmbedder.collection_id == self.collection.id
        )
        return list(session.scalars(query))  # type: ignore[attr-defined]

    def _settled(self, record: dict[str, object]) -> bool:
        """Nothing to do for the configured embedder (checked without loading it)."""
        with self.catalog.session(readonly=True) as session:
            rows = self._embedder_rows(session)
            if len(rows) != 1 or rows[0].config != record:
                return False
            return not catalog_rows.count_missing(session, self.collection.id, rows[0].key)

    def _register(
        self, target: Embedder, record: dict[str, object]
    ) -> tuple[CollectionEmbedder, CollectionEmbedder | None, list[CollectionEmbedder]]:
        """The serving and the building embedder rows, and those created now."""
        key = target.identity.key
        created: list[CollectionEmbedder] = []
        with self.catalog.session() as session:
            rows = self._embedder_rows(session)
            active = next((r for r in rows if r.state == "active"), None)
            building = next((r for r in rows if r.state == "building"), None)
            if active is None:
                active = CollectionEmbedder(
                    collection_id=self.collection.id,
                    key=key,
                    state="active",
                    dimension=target.identity.dimension,
                    config=record,
                )
                session.add(active)
                created.append(active)
            elif active.key == key:
                if building is not None:  # the user went back to the serving embedder
                    self._forget(session, building)
                    building = None
            elif building is None or building.key != key:
                if building is not None:
                    self._forget(session, building)
                building = CollectionEmbedder(
                    collection_id=self.collection.id,
                    key=key,
                    state="building",
                    dimension=target.identity.dimension,
                    config=record,
                )
                session.add(building)
                created.append(building)
            session.flush()
            return active, building, created

    def _index_stored_vectors(self, row: CollectionEmbedder) -> int:
        """Write the vectors the catalog already holds for a newly registered
        embedder into this collection's index; returns the rows written.

        Vectors are stored by content and shared across collections, so a new
        collection over files another one has embedded finds nothing "missing"
        to embed: without this its vector table would stay empty until a heal.
        """
        from mnemo.catalog.models import Document

        self.store.drop_vectors(row.key)  # whatever an earlier attempt left: written in full
        with self.catalog.session(readonly=True) as session:
            if not catalog_rows.count_embedded(session, self.collection.id, row.key):
                return 0
            doc_ids = list(
                session.scalars(
                    select(Document.id)
                    .where(
                        Document.collection_id == self.collection.id,
                        Document.status == "indexed",
                    )
                    .order_by(Document.id)
                )
            )
        written = 0
        for start in range(0, len(doc_ids), FLUSH_DOCUMENTS):
            with self.catalog.session(readonly=True) as session:
                chunks = catalog_rows.chunks_of(
                    session, self.collection.id, doc_ids[start : start + FLUSH_DOCUMENTS]
                )
                rows = self._vector_rows(session, row.key, row.dimension, chunks)
            self.store.add_vectors(row.key, rows)  # type: ignore[arg-type]
            written += rows.num_rows  # type: ignore[attr-defined]
        return written

    def _forget(self, session: object, row: CollectionEmbedder) -> None:
        session.delete(row)  # type: ignore[attr-defined]
        self.store.drop_vectors(row.key)

    def _embed_missing(self, row: CollectionEmbedder, embedder: Embedder) -> int:
        with self.catalog.session(readonly=True) as session:
            total = catalog_rows.count_missing(session, self.collection.id, row.key)
        if not total:
            return 0
        self.on_event(Event("embedding", total=total))
        done = 0
        while True:
            with self.catalog.session(readonly=True) as session:
                page = catalog_rows.missing_embeddings(
                    session, self.collection.id, row.key, EMBED_PAGE
                )
            if not page:
                return done
            by_hash = {c.embed_hash: c.content for c in page}
            vectors = embedder.embed_documents(list(by_hash.values()))
            self._store_vectors(row, dict(zip(by_hash, vectors, strict=True)))
            done += len(page)
            self.on_event(Event("embedded", total=len(page)))

    def _store_vectors(self, row: CollectionEmbedder, vectors: dict[str, np.ndarray]) -> None:
        import numpy as np

        with self.catalog.session() as session:
            add_embeddings(
                session, row.key, {h: v.astype(np.float32).tobytes() for h, v in vectors.items()}
            )
            # Every chunk with these inputs, in any document, had no vector until now.
            chunks = catalog_rows.chunks_with_hashes(session, self.collection.id, vectors)
        matrix = np.stack([vectors[c.embed_hash] for c in chunks]) if chunks else None
        if matrix is not None:
            self.store.add_vectors(
                row.key, catalog_rows.vector_table_rows(chunks, matrix, row.dimension)
            )

    def _switch_if_complete(
        self, active: CollectionEmbedder, building: CollectionEmbedder, report: EmbeddingReport
    ) -> None:
        with self.catalog.session() as session:
            if catalog_rows.count_missing(session, self.collection.id, building.key):
                return
            old = session.get(CollectionEmbedder, active.id)
            new = session.get(CollectionEmbedder, building.id)
            session.delete(old)
            session.flush()
            new.state = "active"  # type: ignore[union-attr]
        self.store.drop_vectors(active.key)
        self.forget_unused_vectors()
        report.notes.append(f"switched to {building.key}; vectors of {active.key} removed")

    def forget_unused_vectors(self) -> int:
        """Delete stored vectors no collection's embedder or chunk uses any more."""
        from mnemo.catalog.models import Chunk

        with self.catalog.session() as session:
            in_use = select(CollectionEmbedder.key).distinct()
            result = session.execute(delete(Embedding).where(Embedding.embedder_key.not_in(in_use)))
            removed = result.rowcount or 0  # type: ignore[attr-defined]
            orphan = delete(Embedding).where(
                ~select(Chunk.id).where(Chunk.embed_hash == Embedding.embed_hash).exists()
            )
            removed += session.execute(orphan).rowcount or 0  # type: ignore[attr-defined]
        return removed

    # -- 3. finish ------------------------------------------------------------------

    def finish(self) -> None:
        """Indexes up to date, files compacted, old versions removed."""
        self.store.ensure_text_index()
        with self.catalog.session(readonly=True) as session:
            keys = self._embedder_keys(session)
        for key, _ in keys:
            self.store.ensure_vector_index(key, self.settings.index.ann_min_rows)
        minutes = self.settings.index.keep_versions_minutes
        self.store.optimize(timedelta(minutes=minutes))
        # The handle kept for searches caches the old versions' index files, which
        # optimize has just let go of: a fresh one releases them (a long-running
        # server otherwise held every deleted index file open, and its memory).
        forget_reader(self.settings, self.collection.name)
        # Planner statistics: without them SQLite answered the search's chunk
        # lookup by scanning every chunk (194 ms -> 2.6 ms at 200k chunks).
        # Skipped while another process writes (the next run refreshes them).
        self.catalog.optimize()

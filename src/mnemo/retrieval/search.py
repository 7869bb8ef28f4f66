"""Search a collection: keyword (BM25), dense, or both fused; the one function
every front end calls.

The index proposes chunk ids; the catalog decides what is shown. A chunk whose
document version is not committed as indexed is never returned, whatever the
index still holds, and filters are checked again on the catalog's rows.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select

from mnemo import tracing
from mnemo.catalog import Catalog, Chunk, Collection, Document
from mnemo.catalog.collections import get_collection
from mnemo.catalog.documents import DocumentState
from mnemo.catalog.models import CollectionEmbedder, document_time
from mnemo.config import Settings
from mnemo.embeddings.resolve import configured, load_matching
from mnemo.errors import IndexDamagedError, MnemoError, QueryError
from mnemo.index import Hit, forget_reader, reader
from mnemo.retrieval import fusion
from mnemo.retrieval.filters import Filters
from mnemo.retrieval.snippets import make_snippet, query_terms

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class SearchHit:
    """One passage, with everything needed to cite it."""

    chunk_id: str
    document_id: str
    path: str
    title: str | None
    media_type: str | None
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    ordinal: int
    char_start: int
    char_end: int
    text: str
    snippet: str
    highlights: list[tuple[int, int]]  # matched words, as spans into ``snippet``
    score: float
    scores: dict[str, float] = field(default_factory=dict)  # each retriever's own score


@dataclass
class SearchResponse:
    query: str
    collection: str
    mode: Mode  # what was asked for
    used: list[str]  # retrievers that actually ran: bm25, dense, rerank
    hits: list[SearchHit]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embedder: str | None = None  # the embedder whose vectors served dense search
    stages: dict[str, float] = field(default_factory=dict)  # seconds: keyword, embed, dense...


def search(
    query: str,
    settings: Settings,
    catalog: Catalog,
    *,
    collection: str | None = None,
    k: int = 10,
    mode: Mode | None = None,
    filters: Filters | None = None,
    rerank: bool | None = None,
) -> SearchResponse:
    """The ``k`` best passages for ``query`` in a collection (traced as ``search``)."""
    with tracing.span(settings, "search", {"mnemo.k": k}):
        response = _search(
            query,
            settings,
            catalog,
            collection=collection,
            k=k,
            mode=mode,
            filters=filters,
            rerank=rerank,
        )
        tracing.annotate(mode=response.mode, used=",".join(response.used), hits=len(response.hits))
        return response


def _search(
    query: str,
    settings: Settings,
    catalog: Catalog,
    *,
    collection: str | None,
    k: int,
    mode: Mode | None,
    filters: Filters | None,
    rerank: bool | None,
) -> SearchResponse:
    from mnemo.retrieval.rerank import load_reranker

    started = time.perf_counter()
    cfg = settings.search
    mode = mode or cfg.mode
    if mode not in MODES:
        raise QueryError(f"--mode: unknown {mode!r}; choose one of {', '.join(MODES)}")
    if k < 1:
        raise QueryError(f"-k must be at least 1 (got {k})")
    filters = filters or Filters()
    text, warnings = _clean(query, settings.search.max_query_chars)
    name = collection or settings.collection
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, name)
        active = session.scalar(
            select(CollectionEmbedder).where(
                CollectionEmbedder.collection_id == coll.id,
                CollectionEmbedder.state == "active",
            )
        )
    response = SearchResponse(query=text, collection=name, mode=mode, used=[], hits=[])
    response.warnings += warnings
    response.warnings += _check_index(settings, catalog, coll)
    before = list(response.warnings)
    try:
        ranked = _Retriever(settings, coll, active, response).run(text, mode, filters)
    except IndexDamagedError:
        # The kept handle may predate a rebuild or a dropped table: retry once
        # on a fresh one; an index that is really damaged fails again.
        forget_reader(settings, name)
        response.used.clear()
        response.warnings[:] = before
        ranked = _Retriever(settings, coll, active, response).run(text, mode, filters)
    reranker = load_reranker(settings) if (rerank if rerank is not None else cfg.rerank) else None
    if rerank and reranker is None:
        response.warnings.append(
            f"reranking is off (search.reranker = {cfg.reranker}); results are not reranked"
        )
    wanted = max(k, cfg.rerank_candidates) if reranker is not None else k
    if settings.graph.retrieval_weight > 0:
        from mnemo.retrieval.graph_expand import expand

        ranked = expand(catalog, coll, ranked, weight=settings.graph.retrieval_weight,
                        seeds=settings.graph.retrieval_seeds)
        response.used.append("graph")
    begun = time.perf_counter()
    hits = _hydrate(catalog, coll, ranked, filters, text, wanted)
    response.stages["hydrate"] = time.perf_counter() - begun
    if reranker is not None and hits:
        from mnemo.retrieval.rerank import rerank_hits

        begun = time.perf_counter()
        with tracing.span(settings, "rerank", {"mnemo.candidates": len(hits)}):
            hits = rerank_hits(reranker, cfg.rerank_candidates, text, hits)
        response.stages["rerank"] = time.perf_counter() - begun
        response.used.append("rerank")
    response.hits = hits[:k]
    if not response.hits and not response.warnings:
        response.warnings.append(_why_empty(catalog, coll, filters))
    response.seconds = time.perf_counter() - started
    return response


def _check_index(settings: Settings, catalog: Catalog, coll: Collection) -> list[str]:
    """Warnings about the collection's index against the catalog (cached per index
    version, see :mod:`mnemo.index.health`). An index that is missing entirely is
    rebuilt from the catalog here, unless a run holds the collection."""
    from mnemo.index import health

    found = health.check_collection(settings, catalog, coll)
    if not found.missing:
        return list(found.problems)
    from filelock import Timeout

    from mnemo.index.updater import IndexUpdater
    from mnemo.ingest.sync import collection_lock

    lock = collection_lock(settings, coll.name, 0)
    try:
        lock.acquire()
    except Timeout:
        return [*found.problems, "a run is updating the collection; it rebuilds the index"]
    try:
        updater = IndexUpdater(settings, catalog, coll)
        updater.heal()
        updater.finish()
    finally:
        lock.release()
    forget_reader(settings, coll.name)
    return [
        f"the search index of collection {coll.name!r} was missing: rebuilt it from the "
        f"catalog ({found.expected_text_rows:,} chunks, nothing re-embedded)"
    ]


def _clean(query: str, limit: int) -> tuple[str, list[str]]:
    text = " ".join(query.split())
    if not text:
        raise QueryError("empty query: give some words to search for")
    if len(text) > limit:
        return text[:limit], [
            f"query cut to its first {limit:,} of {len(text):,} characters (search.max_query_chars)"
        ]
    return text, []


class _Retriever:
    def __init__(
        self,
        settings: Settings,
        collection: Collection,
        active: CollectionEmbedder | None,
        response: SearchResponse,
    ) -> None:
        self.settings = settings
        self.collection = collection
        self.active = active
        self.response = response
        self.store = reader(settings, collection.name)

    def run(self, text: str, mode: Mode, filters: Filters) -> list[tuple[Hit, dict[str, float]]]:
        cfg = self.settings.search
        where = filters.where()
        depth = cfg.candidates
        keyword: list[Hit] = []
        dense: list[Hit] = []
        stages = self.response.stages
        beside = None
        if mode == "hybrid" and cfg.concurrent:
            # Full-text search runs in a pool thread while this one embeds the
            # query and searches vectors (LanceDB and ONNX Runtime release the GIL).
            beside = _beside(self._keyword, text, where, depth)
        if mode in ("bm25", "hybrid") and beside is None:  # also when the pool is busy
            keyword = self._keyword(text, where, depth)
            self.response.used.append("bm25")
        if mode in ("dense", "hybrid"):
            begun = time.perf_counter()
            with tracing.span(self.settings, "embed"):
                vector = self._query_vector(text, mode)
            stages["embed"] = time.perf_counter() - begun
            if vector is not None and self.active is not None:
                try:
                    begun = time.perf_counter()
                    with tracing.span(self.settings, "dense"):
                        dense = self._dense(vector, where, depth)
                    stages["dense"] = time.perf_counter() - begun
                    self.response.used.append("dense")
                except IndexDamagedError as exc:
                    # The keyword side still answers: a damaged vector table is
                    # no reason to show nothing.
                    cause = str(exc).split("; run `mnemo reindex`")[0]
                    self.response.warnings.append(
                        f"dense search failed ({cause}); showing keyword results; run "
                        "`mnemo reindex` to rebuild the index from the catalog "
                        "(nothing is re-embedded)"
                    )
                    vector = None
            if vector is None and mode == "dense":  # nothing else to fall back on
                keyword = self.store.keyword(text, where, depth)
                self.response.used.append("bm25")
        if beside is not None:
            keyword = beside.result()  # its errors (a damaged index) raise here
            self.response.used.insert(0, "bm25")
        by_id = {h.chunk_id: h.score for h in keyword}
        dense_by_id = {h.chunk_id: h.score for h in dense}
        if keyword and dense:
            with tracing.span(self.settings, "fuse", {"mnemo.fusion": cfg.fusion}):
                if cfg.fusion == "rrf":
                    ranked = fusion.rrf(keyword, dense, cfg.rrf_k)
                else:
                    ranked = fusion.convex(keyword, dense, cfg.dense_weight)
        else:
            ranked = list(keyword or dense)
        out = []
        for hit in ranked:
            scores: dict[str, float] = {}
            if hit.chunk_id in by_id:
                scores["bm25"] = by_id[hit.chunk_id]
            if hit.chunk_id in dense_by_id:
                scores["dense"] = dense_by_id[hit.chunk_id]
            out.append((hit, scores))
        return out

    def _keyword(self, text: str, where: str | None, depth: int) -> list[Hit]:
        begun = time.perf_counter()
        with tracing.span(self.settings, "keyword"):
            keyword = self.store.keyword(text, where, depth)
        self.response.stages["keyword"] = time.perf_counter() - begun
        return keyword

    def _dense(self, vector: Any, where: str | None, depth: int) -> list[Hit]:
        assert self.active is not None
        args = (
            self.active.key,
            vector,
            where,
            depth,
            self.settings.index.ann_nprobes,
            self.settings.index.ann_refine_factor,
        )
        try:
            return self.store.dense(*args)
        except IndexDamagedError:
            # The kept handle may predate a rebuild: once more on a fresh one.
            forget_reader(self.settings, self.collection.name)
            self.store = reader(self.settings, self.collection.name)
            return self.store.dense(*args)

    def _query_vector(self, text: str, mode: Mode) -> Any | None:
        fallback = "keyword search only" if mode == "hybrid" else "showing keyword results instead"
        if configured(self.settings) is None:
            self.response.warnings.append(
                f"dense search is off: embedding.backend is none; {fallback}"
            )
            return None
        if self.active is None:
            self.response.warnings.append(
                "dense search is off: this collection has no vectors yet "
                f"(run `mnemo sync` to embed it); {fallback}"
            )
            return None
        try:
            embedder = load_matching(self.active.config, self.active.key, self.settings)
            vector = embedder.embed_query(text)
            self.response.embedder = self.active.key
            return vector
        except MnemoError as exc:
            self.response.warnings.append(f"dense search is off: {exc}; {fallback}")
            return None


#: Threads kept for full-text searches run beside vector searches: at most this
#: many at once; a search that finds them all busy runs its own, in its thread.
_POOL_THREADS = 4
_pool: ThreadPoolExecutor | None = None
_pool_free = threading.BoundedSemaphore(_POOL_THREADS)
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist here."""
    global _pool, _pool_free, _pool_lock
    _pool, _pool_free, _pool_lock = None, threading.BoundedSemaphore(_POOL_THREADS), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _beside(fn: Callable[..., list[Hit]], *args: Any) -> Future[list[Hit]] | None:
    """``fn(*args)`` started in the kept pool (in the caller's tracing context), or
    None when every pool thread is busy (the caller then runs it itself)."""
    global _pool
    if not _pool_free.acquire(blocking=False):
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_THREADS, thread_name_prefix="mnemo-search")
    context = contextvars.copy_context()
    try:
        future = _pool.submit(context.run, fn, *args)
    except RuntimeError:  # the pool is shut down (the interpreter is exiting)
        _pool_free.release()
        return None
    future.add_done_callback(lambda _: _pool_free.release())
    return future


def _hydrate(
    catalog: Catalog,
    collection: Collection,
    ranked: Sequence[tuple[Hit, dict[str, float]]],
    filters: Filters,
    query: str,
    wanted: int,
) -> list[SearchHit]:
    """The first ``wanted`` ranked chunks that the catalog still shows, as hits.

    Rows are read in batches down the ranking, so a search reads about as many
    chunks as it returns, whatever its candidate depth."""
    terms = query_terms(query)
    hits: list[SearchHit] = []
    batch = max(2 * wanted, 20)
    with catalog.session(readonly=True) as session:
        for start in range(0, len(ranked), batch):
            window = ranked[start : start + batch]
            # Two primary-key lookups: joined, SQLite's planner would walk every
            # indexed document of the collection (0.17 s at 20,000 documents).
            chunks = session.scalars(
                select(Chunk).where(Chunk.id.in_([hit.chunk_id for hit, _ in window]))
            ).all()
            # (collection and status checked here, not in SQL, for the same reason)
            docs = {
                doc.id: doc
                for doc in session.scalars(
                    select(Document).where(Document.id.in_({c.document_id for c in chunks}))
                )
                if doc.collection_id == collection.id and doc.status == "indexed"
            }
            rows = {c.id: (c, docs[c.document_id]) for c in chunks if c.document_id in docs}
            for hit, scores in window:
                row = rows.get(hit.chunk_id)
                if row is None:  # the index is ahead of or behind the catalog: trust the catalog
                    continue
                chunk, doc = row
                tags = list((doc.meta or {}).get("tags") or [])
                when = document_time(doc.meta, doc.mtime_ns)
                if not filters.matches(doc.path, doc.media_type, tags, when):
                    continue
                hits.append(_hit(chunk, doc, hit.score, scores, terms))
                if len(hits) == wanted:
                    return hits
    return hits


def _hit(
    chunk: Chunk, doc: Document, score: float, scores: dict[str, float], terms: set[str]
) -> SearchHit:
    snippet = make_snippet(chunk.text, terms)
    return SearchHit(
        chunk_id=chunk.id,
        document_id=doc.id,
        path=doc.path,
        title=doc.title,
        media_type=doc.media_type,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        heading_path=list(chunk.heading_path or []),
        ordinal=chunk.ordinal,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        text=chunk.text,
        snippet=snippet.text,
        highlights=snippet.highlights,
        score=score,
        scores=scores,
    )


def _why_empty(catalog: Catalog, coll: Collection, filters: Filters) -> str:
    with catalog.session(readonly=True) as session:
        indexed = session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.collection_id == coll.id, Document.status == DocumentState.INDEXED)
        )
    if not indexed:
        return (
            f"collection {coll.name!r} has no indexed documents yet: add some with `mnemo add PATH`"
        )
    if not filters.empty:
        return "no passage matches the query within the filters; try fewer filters"
    return "no passage matches the query"

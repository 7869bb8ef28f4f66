"""Search latency at scale: a synthetic 200,000-chunk collection, queried through
``mnemo.search`` itself.

    python benchmarks/scale.py                              # build, then query
    python benchmarks/scale.py --chunks 20000 --home /tmp/scale20k
    python benchmarks/scale.py --reuse --rounds 2 --json out.json   # query an existing build

Build. The data directory and its collection are made the normal way:
``mnemo.add`` of a few generated Markdown files with the default settings, so
the collection and its active embedder row exist. Then synthetic documents
(``--chunks-per-doc`` chunks each) go straight into the catalog with SQLAlchemy
core inserts: ``documents`` rows (status ``indexed``), ``chunks`` rows (text,
hashes, offsets, token counts), one vector per chunk in ``embeddings`` under
the collection's active embedder key, and one ``index_pending`` row per
document. ``IndexUpdater.flush()`` then writes the LanceDB tables from the
catalog and ``IndexUpdater.finish()`` builds the BM25 index and, past
``index.ann_min_rows``, the approximate vector index, as ``mnemo sync`` would.

Text. Each chunk is 100-180 words of real English: sentences sampled at random
from the passages of the shared msmarco and dbpedia corpora (read at run time;
nothing from them is stored in the repository). Titles and headings are
dbpedia titles.

Vectors. ``--base-vectors`` real passages (3,000) are embedded once with the
collection's own embedder (the packaged MiniLM by default). Each synthetic
vector is ``w * a + (1 - w) * b + noise``, normalised to unit length, where
``a`` and ``b`` are two of those real vectors picked at random, ``w`` is
uniform in [0.3, 0.7] and the noise is Gaussian with sigma 0.01 a dimension
(about 0.2 in norm, against about 0.8 for the mix). The vectors therefore have
MiniLM's geometry (its occupied cone, its cluster structure) without embedding
200,000 passages; they are not the embeddings of the chunk's own text, so
dense results are not meaningful answers, only meaningful work. The
approximate index's recall is measured against exact search on these same
vectors.

Queries. The 50 msmarco and 50 dbpedia queries, each run through
``mnemo.search(q, settings, k=10, mode=...)`` for bm25, dense and hybrid after
a warm-up, then hybrid with a path filter (``area3/*``: 10% of documents) and a
media-type filter (``application/pdf``: about 15%). Dense and hybrid are timed
again with the vector index bypassed (``LanceStore.dense`` forced to
``exact=True``), and ANN recall@10 / @100 against exact search is measured on
a store kept open. A stage breakdown of hybrid queries times each step
(catalog open, index open, query embedding, full-text search, vector search,
fusion, catalog hydration, snippets) by wrapping the functions that do them.

Backends (issue 19). ``--backend milvus`` puts the index in Milvus Lite
(``<home>/index/milvus.db``) or at ``--milvus-uri``; ``--catalog postgres``
puts the catalog in PostgreSQL: a throw-away cluster started from Debian's
``postgresql`` (``tests/pgcluster.py``) unless ``--catalog-url`` names one.
``--reuse`` queries an earlier build again when its catalog outlived it (SQLite,
or ``--catalog-url``; a throw-away cluster is gone with its run).
``--from-home DIR`` builds from an existing build's catalog instead of
generating one (it is copied first, never written): the catalog rows are
copied into the chosen catalog and the index is written from them, as
``mnemo migrate`` does; nothing is embedded. The query phase then also times
a no-op ``mnemo.sync`` (the index health check reads every id).

Build and queries each run in their own Python process, so each peak RSS
(``ru_maxrss``) is its own. ``--rounds N`` repeats the query process (the
machine may be shared; compare rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "data"
SETS = ("msmarco", "dbpedia")
MODES = ("bm25", "dense", "hybrid")
#: Share of each media type among the synthetic documents.
MEDIA = {
    ".md": ("text/markdown", 0.45),
    ".txt": ("text/plain", 0.20),
    ".pdf": ("application/pdf", 0.15),
    ".html": ("text/html", 0.12),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 0.08),
}
AREAS = 10  # documents are spread evenly over area0..area9, so "area3/*" is 10%
TAGS = ["notes", "reading", "work", "ideas", "people", "travel"]
NOISE = 0.01
MARKER = "scale-build.json"


# -- output ----------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (so it can be pasted into docs/benchmarks.md as is)."""
    cells = [[_cell(v) for v in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def backend_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that choose the index and catalog backends."""
    overrides: dict[str, Any] = {}
    if args.backend == "milvus":
        overrides["index"] = {"backend": "milvus"}
        if args.milvus_uri:
            overrides["index"]["milvus_uri"] = args.milvus_uri
    if args.catalog == "postgres":
        overrides["catalog"] = {"url": args.catalog_url}
    return overrides


def build_from(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The index and catalog from an existing build's catalog: copied, never re-embedded."""
    import mnemo
    from mnemo.catalog import Catalog
    from mnemo.catalog.collections import get_collection
    from mnemo.catalog.copy import copy_catalog
    from mnemo.catalog.db import open_catalog
    from mnemo.index.base import TEXT
    from mnemo.index.updater import IndexUpdater

    steps: dict[str, float] = {}
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    started = time.perf_counter()
    for name in ("catalog.db", "catalog.db-wal"):
        if (args.from_home / name).exists():
            shutil.copy2(args.from_home / name, home / ("source-" + name))
    steps["copy the source catalog file"] = time.perf_counter() - started
    settings = mnemo.load_settings(home, backend_overrides(args))
    source = Catalog(home / "source-catalog.db")
    if args.catalog == "postgres":
        started = time.perf_counter()
        target = open_catalog(settings)
        copied = copy_catalog(source, target)
        steps["copy catalog rows into PostgreSQL"] = time.perf_counter() - started
        say(f"catalog copied: {sum(copied.values()):,} rows")
        source.close()
    else:
        source.close()
        for name in ("catalog.db", "catalog.db-wal"):
            if (home / ("source-" + name)).exists():
                shutil.copy2(home / ("source-" + name), home / name)
        target = open_catalog(settings)
    with target.session(readonly=True) as session:
        coll = get_collection(session, settings.collection)
    updater = IndexUpdater(settings, target, coll)
    started = time.perf_counter()
    written = updater.rebuild()
    steps[f"index written from the catalog ({args.backend})"] = time.perf_counter() - started
    say(f"index: {written:,} documents in {time.perf_counter() - started:.1f} s")
    counts = {"text_rows": updater.store.count(TEXT)}
    target.close()
    return {
        "from_home": str(args.from_home),
        "backend": args.backend,
        "catalog": args.catalog,
        "index_counts": counts,
        "chunks": counts["text_rows"],
        "documents": written,
        "chunks_per_doc": args.chunks_per_doc,
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "total_s": round(sum(steps.values()), 1),
        "peak_rss_mb": {"after build": peak_rss_mb()},
        "loadavg": loadavg(),
    }


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50_ms": round(statistics.median(latencies_ms), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "max_ms": round(max(latencies_ms), 1),
        "mean_ms": round(statistics.fmean(latencies_ms), 1),
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    from importlib.metadata import version

    for name in ("lancedb", "pylance", "pyarrow", "sentence-transformers", "torch", "onnxruntime", "SQLAlchemy"):
        try:
            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
    }


# -- shared data -----------------------------------------------------------------


def load_corpus(data: Path) -> list[dict[str, str]]:
    rows = []
    for name in SETS:
        path = data / name / "corpus.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} not found: give --data (the shared bench data folder)")
        with path.open() as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def load_queries(data: Path, per_set: int) -> list[tuple[str, str]]:
    """(set, text) for the first ``per_set`` queries of each set."""
    out = []
    for name in SETS:
        with (data / name / "queries.jsonl").open() as handle:
            texts = [json.loads(line)["text"] for line in handle]
        out += [(name, t) for t in texts[:per_set]]
    return out


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def sentence_pool(corpus: list[dict[str, str]]) -> list[tuple[str, int]]:
    """Every sentence of 4-60 words, with its word count."""
    pool = []
    for row in corpus:
        for sentence in _SENTENCE.split(row["text"].strip()):
            words = len(sentence.split())
            if 4 <= words <= 60:
                pool.append((sentence.strip(), words))
    return pool


def make_passage(rng: random.Random, pool: list[tuple[str, int]]) -> str:
    target = rng.randint(100, 180)
    parts, words = [], 0
    while words < target:
        sentence, n = pool[rng.randrange(len(pool))]
        parts.append(sentence)
        words += n
    return " ".join(parts)


# -- build (child process) -------------------------------------------------------


SEED_DOCS = {
    "welcome.md": "# Welcome\n\nThis folder seeds the scale benchmark's collection.\n\n"
    "## Why\n\nThe collection and its embedder are created the normal way, by mnemo add.\n",
    "notes/alpine-lakes.md": "# Alpine lakes\n\nGlacial lakes form where ice carved basins "
    "into the rock. Their colour comes from rock flour suspended in the water.\n",
    "notes/sourdough.txt": "Sourdough\n\nA sourdough starter is a culture of wild yeast and "
    "lactic acid bacteria kept alive with flour and water.\n",
}


def build(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from sqlalchemy import insert, select

    import mnemo
    from mnemo.catalog.db import open_catalog
    from mnemo.catalog.models import Chunk, CollectionEmbedder, Document, Embedding, IndexPending
    from mnemo.chunking import chunk_id
    from mnemo.chunking.chunker import text_hash
    from mnemo.embeddings.inputs import embed_hash, embedding_input
    from mnemo.embeddings.resolve import load
    from mnemo.index.lance import TEXT, vector_table
    from mnemo.index.updater import IndexUpdater
    from mnemo.catalog.collections import get_collection

    steps: dict[str, float] = {}
    rss: dict[str, float] = {}
    if home.exists():
        shutil.rmtree(home)
    seed = home / "seed-docs"
    for rel, body in SEED_DOCS.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(body)

    # 1. the collection, the normal way
    started = time.perf_counter()
    settings = mnemo.load_settings(home, backend_overrides(args))
    report = mnemo.add([seed], settings)
    steps["mnemo add (seed folder, loads embedder)"] = time.perf_counter() - started
    rss["after mnemo add"] = peak_rss_mb()
    say(f"seed: {report.counts.get('indexed')} documents indexed, embedder loaded")

    catalog = open_catalog(settings)
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, settings.collection)
        active = session.scalar(
            select(CollectionEmbedder).where(
                CollectionEmbedder.collection_id == coll.id, CollectionEmbedder.state == "active"
            )
        )
    if active is None:
        raise SystemExit("mnemo add made no active embedder: is embedding.backend none?")
    dimension = active.dimension

    # 2. base vectors: real passages through the real embedder
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    corpus = load_corpus(args.data)
    pool = sentence_pool(corpus)
    titles = sorted({(r.get("title") or "").strip() for r in corpus} - {""})
    steps["read shared corpora, split sentences"] = time.perf_counter() - started
    started = time.perf_counter()
    base_rows = rng.sample(corpus, min(args.base_vectors, len(corpus)))
    embedder = load(active.config, settings)
    base = embedder.embed_documents(
        [embedding_input(r.get("title"), [], r["text"]) for r in base_rows]
    ).astype(np.float32)
    steps[f"embed {len(base_rows):,} real passages"] = time.perf_counter() - started
    rss["after base vectors"] = peak_rss_mb()
    say(f"base vectors: {base.shape} in {steps[f'embed {len(base_rows):,} real passages']:.1f} s")

    # 3. synthetic documents, chunks, vectors and outbox rows, straight into the catalog
    per_doc = args.chunks_per_doc
    n_docs = max(1, args.chunks // per_doc)
    exts = list(MEDIA)
    weights = [MEDIA[e][1] for e in exts]
    now_ns = time.time_ns()
    t_gen = t_vec = t_sql = 0.0
    inserted_chunks = 0
    batch_docs = 1000
    for first in range(0, n_docs, batch_docs):
        t0 = time.perf_counter()
        docs, chunks, hashes, pending = [], [], [], []
        for i in range(first, min(n_docs, first + batch_docs)):
            doc_id = uuid.UUID(int=rng.getrandbits(128)).hex
            ext = rng.choices(exts, weights)[0]
            title = rng.choice(titles)
            path = f"/synthetic/area{i % AREAS}/topic{(i // AREAS) % 50:02}/doc{i:06d}{ext}"
            offset, size = 0, 0
            for ordinal in range(per_doc):
                text = make_passage(rng, pool)
                heading = [rng.choice(titles)] if ordinal % 3 else []
                t_hash = text_hash(text)
                e_hash = embed_hash(title, heading, text)
                chunks.append(
                    {
                        "id": chunk_id(doc_id, t_hash, 0),
                        "document_id": doc_id,
                        "ordinal": ordinal,
                        "text": text,
                        "text_hash": t_hash,
                        "heading_path": heading,
                        "page_start": ordinal // 3 + 1 if ext == ".pdf" else None,
                        "page_end": ordinal // 3 + 1 if ext == ".pdf" else None,
                        "char_start": offset,
                        "char_end": offset + len(text),
                        "token_count": int(len(text.split()) * 1.3),
                        "embed_hash": e_hash,
                    }
                )
                hashes.append(e_hash)
                offset += len(text) + 2
                size += len(text.encode()) + 2
            docs.append(
                {
                    "id": doc_id,
                    "collection_id": coll.id,
                    "source_id": None,
                    "path": path,
                    "content_hash": text_hash(doc_id) * 2,
                    "size": size,
                    "mtime_ns": now_ns - rng.randrange(3 * 365 * 86400) * 10**9,
                    "media_type": MEDIA[ext][0],
                    "title": title,
                    "status": "indexed",
                    "parser": "synthetic",
                    "pipeline_key": "synthetic",
                    "page_count": (per_doc + 2) // 3 if ext == ".pdf" else None,
                    "chunk_count": per_doc,
                    "meta": {"tags": rng.sample(TAGS, 2)},
                }
            )
            pending.append({"collection_id": coll.id, "document_id": doc_id})
        t1 = time.perf_counter()
        n = len(hashes)
        a = base[nrng.integers(0, len(base), n)]
        b = base[nrng.integers(0, len(base), n)]
        w = nrng.uniform(0.3, 0.7, (n, 1)).astype(np.float32)
        vectors = w * a + (1 - w) * b + nrng.normal(0, NOISE, (n, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors.astype(np.float32)
        embeddings = [
            {"embedder_key": active.key, "embed_hash": h, "vector": v.tobytes()}
            for h, v in zip(hashes, vectors, strict=True)
        ]
        t2 = time.perf_counter()
        with catalog.session() as session:
            session.execute(insert(Document), docs)
            session.execute(insert(Chunk), chunks)
            session.execute(insert(Embedding), embeddings)
            session.execute(insert(IndexPending), pending)
        t3 = time.perf_counter()
        t_gen += t1 - t0
        t_vec += t2 - t1
        t_sql += t3 - t2
        inserted_chunks += n
        say(f"catalog: {inserted_chunks:,} / {n_docs * per_doc:,} chunks")
    steps["generate chunk text and hashes"] = t_gen
    steps["generate synthetic vectors"] = t_vec
    steps["catalog inserts (SQLAlchemy core)"] = t_sql
    rss["after catalog inserts"] = peak_rss_mb()

    # 4. the index, as mnemo sync builds it
    updater = IndexUpdater(settings, catalog, coll)
    started = time.perf_counter()
    written = updater.flush()
    steps["IndexUpdater.flush (LanceDB tables)"] = time.perf_counter() - started
    rss["after flush"] = peak_rss_mb()
    say(f"flush: {written:,} documents in {steps['IndexUpdater.flush (LanceDB tables)']:.1f} s")
    finish_steps: dict[str, float] = {}
    store = updater.store
    for name in ("ensure_text_index", "ensure_vector_index", "optimize"):
        setattr(store, name, _timed(getattr(store, name), name, finish_steps))
    started = time.perf_counter()
    updater.finish()
    steps["IndexUpdater.finish"] = time.perf_counter() - started
    # The BM25 index already exists (the seed add made it): optimize folds the new rows in.
    steps["  of which BM25 index create"] = finish_steps.get("ensure_text_index", 0.0)
    steps["  of which vector index create"] = finish_steps.get("ensure_vector_index", 0.0)
    steps["  of which optimize (compact, update indexes)"] = finish_steps.get("optimize", 0.0)
    rss["after finish"] = peak_rss_mb()
    say(f"finish in {steps['IndexUpdater.finish']:.1f} s")

    fresh = IndexUpdater(settings, catalog, coll).store
    key_table = vector_table(active.key)
    indexes: dict[str, list[str]] = {}
    for t in (TEXT, key_table) if args.backend == "lance" else ():
        table = fresh._table(t)
        indexes[t] = []
        for ix in table.list_indices():
            stats = table.index_stats(ix.name)
            indexes[t].append(
                f"{ix.name}: {ix.index_type}, {stats.num_indices} segment(s), "
                f"{stats.num_unindexed_rows} rows unindexed"
            )
    counts = {"text_rows": fresh.count(TEXT), "vector_rows": fresh.count(key_table)}
    catalog.close()
    return {
        "chunks": inserted_chunks,
        "documents": n_docs,
        "chunks_per_doc": per_doc,
        "seed_documents": report.counts.get("indexed"),
        "embedder": active.key,
        "dimension": dimension,
        "base_vectors": len(base),
        "noise_sigma": NOISE,
        "ann_min_rows": settings.index.ann_min_rows,
        "index_counts": counts,
        "indexes": indexes,
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "total_s": round(sum(v for k, v in steps.items() if not k.startswith("  ")), 1),
        "peak_rss_mb": rss,
        "disk_mb": disk(settings),
    }


def _timed(fn: Callable[..., Any], label: str, into: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*a: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            into[label] = into.get(label, 0.0) + time.perf_counter() - started

    return wrapper


def disk(settings: Any) -> dict[str, float]:
    catalog = sum(
        p.stat().st_size
        for p in settings.catalog_path.parent.glob(settings.catalog_path.name + "*")
        if p.is_file() and not p.name.endswith(".lock")
    )
    return {
        "catalog_mb": round(catalog / 1e6, 1),
        "index_mb": round(tree_bytes(settings.index_path) / 1e6, 1),
    }


# -- queries (child process) -----------------------------------------------------


class Stages:
    """Wall time per stage of each search, by wrapping the functions that do them."""

    TOP = ("catalog open", "collection lookup", "index open", "embed query", "full-text search",
           "vector search", "fusion", "hydrate")
    NESTED = {"table open": "inside full-text/vector search", "index check": "inside full-text search",
              "snippets": "inside hydrate"}

    def __init__(self, store_class: Any = None) -> None:
        self.current: dict[str, float] = {}
        self.per_query: list[dict[str, float]] = []
        self._undo: list[tuple[Any, str, Any]] = []
        self.store_class = store_class

    def patch(self) -> None:
        import mnemo.catalog.db
        import mnemo.catalog.collections
        import mnemo.retrieval.fusion
        import mnemo.retrieval.search as search_mod
        from mnemo.index.lance import LanceStore

        store = self.store_class or LanceStore
        targets = [
            (mnemo.catalog.db.Catalog, "__init__", "catalog open"),
            (mnemo.catalog.collections, "get_collection", "collection lookup"),
            (search_mod, "reader", "index open"),
            (search_mod._Retriever, "_query_vector", "embed query"),
            (store, "keyword", "full-text search"),
            (store, "dense", "vector search"),
            *(
                [(LanceStore, "_table", "table open"), (LanceStore, "_has_index", "index check")]
                if store is LanceStore
                else []
            ),
            (mnemo.retrieval.fusion, "convex", "fusion"),
            (mnemo.retrieval.fusion, "rrf", "fusion"),
            (search_mod, "_hydrate", "hydrate"),
            (search_mod, "make_snippet", "snippets"),
        ]
        for owner, name, label in targets:
            original = getattr(owner, name)
            self._undo.append((owner, name, original))
            setattr(owner, name, self._wrap(original, label))

    def unpatch(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def _wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        stages = self

        def wrapper(*a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                # A stage run in another thread (the full-text search beside the
                # vector search, search.concurrent) overlaps the others: kept apart.
                name = label if threading.current_thread() is threading.main_thread() else (
                    f"{label} (its own thread)")
                stages.current[name] = stages.current.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    def run(self, fn: Callable[[], Any]) -> None:
        self.current = {}
        started = time.perf_counter()
        fn()
        total = time.perf_counter() - started
        top = sum(self.current.get(s, 0.0) for s in self.TOP)
        self.current["total"] = total
        self.current["other (session, embedder row, SearchHit objects)"] = max(0.0, total - top)
        self.per_query.append({k: v * 1000 for k, v in self.current.items()})

    def report(self) -> list[dict[str, Any]]:
        labels = [*self.TOP, "other (session, embedder row, SearchHit objects)", "total",
                  *self.NESTED]
        labels += sorted({k for q in self.per_query for k in q if k.endswith("(its own thread)")})
        rows = []
        for label in labels:
            values = [q.get(label, 0.0) for q in self.per_query]
            rows.append(
                {
                    "stage": label + (f" ({self.NESTED[label]})" if label in self.NESTED else ""),
                    "mean_ms": round(statistics.fmean(values), 2),
                    "p50_ms": round(statistics.median(values), 2),
                    "p95_ms": round(percentile(values, 95), 2),
                }
            )
        return rows


def query_phase(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    import mnemo
    from mnemo.catalog.db import open_catalog
    from mnemo.catalog.models import CollectionEmbedder
    from mnemo.embeddings.resolve import load
    from mnemo.index import open_store
    from mnemo.index.lance import LanceStore, vector_table
    from mnemo.catalog.collections import get_collection

    overrides: dict[str, Any] = backend_overrides(args)
    if args.torch_threads:  # the default embedder runs on ONNX Runtime: its threads
        overrides["embedding"] = {"threads": args.torch_threads}
    settings = mnemo.load_settings(home, overrides)
    if args.backend == "milvus":
        from mnemo.index.milvus import MilvusStore as StoreClass
    else:
        StoreClass = LanceStore  # noqa: N806
    queries = load_queries(args.data, args.queries // 2)
    texts = [t for _, t in queries]
    out: dict[str, Any] = {"queries": len(texts), "threads": args.torch_threads or "default",
                           "embedder": settings.embedding.backend, "loadavg_start": loadavg()}
    started = time.perf_counter()
    # Warm-up: the first searches load the model and the index files.
    for mode in MODES:
        for text in texts[:5]:
            mnemo.search(text, settings, k=10, mode=mode)
    out["warmup_s"] = round(time.perf_counter() - started, 1)
    out["rss_after_warmup_mb"] = peak_rss_mb()

    def timed_run(
        mode: str, filters: Any = None, rerank: bool = False
    ) -> tuple[list[float], list[Any]]:
        latencies, responses = [], []
        for text in texts:
            t0 = time.perf_counter()
            response = mnemo.search(
                text, settings, k=10, mode=mode, filters=filters, rerank=rerank
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            responses.append(response)
        return latencies, responses

    latency: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        ms, responses = timed_run(mode)
        latency[mode] = {**summary(ms), "mean_hits": statistics.fmean(len(r.hits) for r in responses),
                         "used": sorted({u for r in responses for u in r.used})}
        say(f"  {mode}: {latency[mode]}")
    if args.rerank:
        mnemo.search(texts[0], settings, k=10, mode="hybrid", rerank=True)  # loads the reranker
        ms, responses = timed_run("hybrid", rerank=True)
        label = f"hybrid + rerank top {settings.search.rerank_candidates}"
        latency[label] = {**summary(ms), "mean_hits": statistics.fmean(len(r.hits) for r in responses),
                          "used": sorted({u for r in responses for u in r.used}),
                          "rerank_p50_ms": round(statistics.median(
                              r.stages.get("rerank", 0.0) * 1000 for r in responses), 1)}
        say(f"  {label}: {latency[label]}")
    filters = {
        "hybrid, path area3/* (10%)": mnemo.Filters(path=["area3/*"]),
        "hybrid, media application/pdf (~15%)": mnemo.Filters(media_types=["application/pdf"]),
    }
    for label, flt in filters.items():
        ms, responses = timed_run("hybrid", flt)
        wrong = sum(
            1 for r in responses for h in r.hits
            if not flt.matches(h.path, h.media_type, [], 0.0)
        )
        latency[label] = {**summary(ms), "mean_hits": statistics.fmean(len(r.hits) for r in responses),
                          "hits_outside_filter": wrong}
        say(f"  {label}: {latency[label]}")

    # Dense and hybrid with the vector index bypassed, through mnemo.search.
    original_dense = StoreClass.dense

    def exact_dense(self: Any, *a: Any, **kw: Any) -> Any:
        kw["exact"] = True
        return original_dense(self, *a, **kw)

    StoreClass.dense = exact_dense  # type: ignore[method-assign]
    try:
        # Milvus has no index bypass: its exact search reads every vector out of it
        # (seconds a query), so that pass is skipped; recall uses the catalog's vectors.
        for mode in ("dense", "hybrid") if args.backend == "lance" else ():
            ms, responses = timed_run(mode)
            latency[f"{mode}, exact (index bypassed)"] = {
                **summary(ms), "mean_hits": statistics.fmean(len(r.hits) for r in responses)}
            say(f"  {mode} exact: {latency[f'{mode}, exact (index bypassed)']}")
    finally:
        StoreClass.dense = original_dense  # type: ignore[method-assign]
    out["latency"] = latency
    out["rss_after_search_mb"] = peak_rss_mb()

    # ANN against exact, on a store kept open (what a long-lived server would hold).
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        coll = get_collection(session, settings.collection)
        active = session.scalar(
            select(CollectionEmbedder).where(
                CollectionEmbedder.collection_id == coll.id, CollectionEmbedder.state == "active"
            )
        )
    embedder = load(active.config, settings)
    vectors = [embedder.embed_query(t) for t in texts]
    t0 = time.perf_counter()
    for t in texts:
        embedder.embed_query(t)
    embed_ms = (time.perf_counter() - t0) * 1000 / len(texts)
    store = open_store(settings, coll.name)
    if args.backend == "lance":
        table = store._table(vector_table(active.key))
        # (index_type reads "IvfSq", "IvfPq", ...: compare case-blind)
        has_ann = any("ivf" in str(ix.index_type).lower() for ix in table.list_indices())
        index_names = [f"{ix.name}: {ix.index_type}" for ix in table.list_indices()]
    else:  # Milvus builds its index (index.milvus_index_type) as rows arrive
        has_ann = False  # no nprobes sweep: Milvus reads index.milvus_search_params
        index_names = [f"{settings.index.milvus_index_type} {settings.index.milvus_index_params}"]
    depth = settings.search.candidates
    nprobes, refine = settings.index.ann_nprobes, settings.index.ann_refine_factor

    def dense_run(exact: bool, probes: int, refine_factor: int) -> tuple[list[float], list[list[str]]]:
        ms, ids = [], []
        for v in vectors:
            t0 = time.perf_counter()
            hits = store.dense(active.key, v, None, depth, probes, refine_factor, exact=exact)
            ms.append((time.perf_counter() - t0) * 1000)
            ids.append([h.chunk_id for h in hits])
        return ms, ids

    if args.backend == "lance":
        dense_run(True, nprobes, refine)  # warm the exact path's file cache
        exact_ms, exact_ids = dense_run(True, nprobes, refine)
    else:
        exact_ms, exact_ids = catalog_exact(settings, coll.id, active.key, vectors, depth)
    sweep = []
    grid = [(nprobes, refine)] + ([(p, r) for p in (8, 16, 32, 64) for r in (1, 2, 4)
                                   if (p, r) != (nprobes, refine)] if has_ann and args.sweep else [])
    for probes, refine_factor in grid:
        ms, ids = dense_run(False, probes, refine_factor)
        sweep.append({
            "nprobes": probes,
            "refine_factor": refine_factor,
            **summary(ms),
            "recall@10": round(_recall(ids, exact_ids, 10), 4),
            f"recall@{depth}": round(_recall(ids, exact_ids, depth), 4),
        })
    out["ann"] = {
        "vector_index": has_ann,
        "indexes": index_names,
        "depth": depth,
        "exact": summary(exact_ms),
        "settings": sweep[0],
        "sweep": sweep,
        "embed_query_ms": round(embed_ms, 1),
    }
    # Full-text search alone on the kept-open store.
    fts_ms = []
    for text in texts:
        t0 = time.perf_counter()
        store.keyword(text, None, depth)
        fts_ms.append((time.perf_counter() - t0) * 1000)
    out["open_store"] = {"fts": summary(fts_ms)}
    say(f"  ann: {sweep[0]}  exact: {out['ann']['exact']}")

    # A sync with nothing to do: the walk of the sources and the index health check.
    t0 = time.perf_counter()
    if args.sync:
        mnemo.sync(settings)
    out["noop_sync_s"] = round(time.perf_counter() - t0, 2) if args.sync else None
    say(f"  no-op sync: {out['noop_sync_s']} s")

    # Where a hybrid query's time goes.
    stages = Stages(StoreClass)
    stages.patch()
    try:
        for text in texts:
            stages.run(lambda text=text: mnemo.search(text, settings, k=10, mode="hybrid"))
    finally:
        stages.unpatch()
    out["hybrid_stages"] = stages.report()
    if args.profile:
        out["profile_top"] = profile_hybrid(settings, texts[:20])
    out["rss_peak_mb"] = peak_rss_mb()
    out["loadavg_end"] = loadavg()
    return out


def catalog_exact(
    settings: Any, collection_id: int, key: str, queries: list[Any], depth: int
) -> tuple[list[float], list[list[str]]]:
    """Exact nearest chunks from the vectors the catalog keeps (NumPy over all of them)."""
    import numpy as np
    from sqlalchemy import select

    from mnemo.catalog.db import open_catalog
    from mnemo.catalog.models import Chunk, Document, Embedding

    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        rows = session.execute(
            select(Chunk.id, Embedding.vector)
            .join(Document, Chunk.document_id == Document.id)
            .join(Embedding, (Embedding.embed_hash == Chunk.embed_hash) & (Embedding.embedder_key == key))
            .where(Document.collection_id == collection_id, Document.status == "indexed")
        ).all()
    ids = [r[0] for r in rows]
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    ms, found = [], []
    for query in queries:
        t0 = time.perf_counter()
        scores = matrix @ np.asarray(query, dtype=np.float32)
        top = np.argsort(-scores)[:depth]
        ms.append((time.perf_counter() - t0) * 1000)
        found.append([ids[i] for i in top])
    return ms, found


def _recall(got: list[list[str]], truth: list[list[str]], k: int) -> float:
    scores = []
    for g, t in zip(got, truth, strict=True):
        want = set(t[:k])
        if want:
            scores.append(len(set(g[:k]) & want) / len(want))
    return statistics.fmean(scores) if scores else 1.0


def profile_hybrid(settings: Any, texts: list[str]) -> list[str]:
    import cProfile
    import io
    import pstats

    import mnemo

    profiler = cProfile.Profile()
    profiler.enable()
    for text in texts:
        mnemo.search(text, settings, k=10, mode="hybrid")
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(40)
    return buffer.getvalue().splitlines()


# -- parent ----------------------------------------------------------------------


def child(phase: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", phase,
        "--home", str(args.home), "--chunks", str(args.chunks),
        "--chunks-per-doc", str(args.chunks_per_doc), "--queries", str(args.queries),
        "--data", str(args.data), "--seed", str(args.seed),
        "--base-vectors", str(args.base_vectors),
    ]
    command += ["--no-sweep"] if not args.sweep else []
    command += ["--profile"] if args.profile else []
    command += ["--torch-threads", str(args.torch_threads)]
    command += ["--backend", args.backend, "--catalog", args.catalog]
    command += ["--catalog-url", args.catalog_url] if args.catalog_url else []
    command += ["--milvus-uri", args.milvus_uri] if args.milvus_uri else []
    command += ["--from-home", str(args.from_home)] if args.from_home else []
    command += [] if args.rerank else ["--no-rerank"]
    command += [] if args.sync else ["--no-sync"]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_build(b: dict[str, Any]) -> None:
    say(f"\nBuild: {b['chunks']:,} chunks in {b['documents']:,} documents "
        f"(+{b.get('seed_documents', 0)} seed), embedder {b.get('embedder', '(copied)')}")
    say(table(["step", "seconds"], [[k, v] for k, v in b["steps_s"].items()] + [["total", b["total_s"]]]))
    say(f"index rows: {b['index_counts']}; indexes: {b.get('indexes')}")
    say(f"build peak RSS (MB): {b['peak_rss_mb']}")
    if "disk_mb" in b:
        say(f"disk: catalog {b['disk_mb']['catalog_mb']:,} MB, index {b['disk_mb']['index_mb']:,} MB")


def print_round(n: int, r: dict[str, Any]) -> None:
    say(f"\nQueries, round {n}: {r['queries']} queries, k=10, threads {r['threads']}; load average "
        f"{r['loadavg_start']} -> {r['loadavg_end']}")
    say(table(["search", "p50 ms", "p95 ms", "max ms", "mean hits"],
              [[k, v["p50_ms"], v["p95_ms"], v["max_ms"], v.get("mean_hits")]
               for k, v in r["latency"].items()]))
    ann = r["ann"]
    say(f"\nDense retrieval alone (store kept open, depth {ann['depth']}); vector index: "
        f"{ann['indexes'] or 'none'}; exact p50/p95 {ann['exact']['p50_ms']}/{ann['exact']['p95_ms']} ms; "
        f"full-text p50/p95 {r['open_store']['fts']['p50_ms']}/{r['open_store']['fts']['p95_ms']} ms; "
        f"query embedding {ann['embed_query_ms']} ms")
    depth_key = f"recall@{ann['depth']}"
    say(table(["nprobes", "refine", "p50 ms", "p95 ms", "recall@10", depth_key],
              [[s["nprobes"], s["refine_factor"], s["p50_ms"], s["p95_ms"], s["recall@10"], s[depth_key]]
               for s in ann["sweep"]]))
    say("\nHybrid query, per stage (ms):")
    say(table(["stage", "mean", "p50", "p95"],
              [[s["stage"], s["mean_ms"], s["p50_ms"], s["p95_ms"]] for s in r["hybrid_stages"]]))
    say(f"no-op sync: {r.get('noop_sync_s')} s")
    say(f"query process peak RSS: {r['rss_peak_mb']:,} MB (after warm-up {r['rss_after_warmup_mb']:,}, "
        f"after timed searches {r['rss_after_search_mb']:,})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=200_000, help="synthetic chunks (default: %(default)s)")
    parser.add_argument("--chunks-per-doc", type=int, default=10, help="chunks per synthetic document")
    parser.add_argument("--queries", type=int, default=100, help="queries, half from each set (default: %(default)s)")
    parser.add_argument("--home", type=Path, default=ROOT / "bench-out" / "scale", help="data directory (default: %(default)s)")
    parser.add_argument("--reuse", action="store_true", help="skip the build when --home holds one with the same parameters")
    parser.add_argument("--rounds", type=int, default=1, help="query passes, each in a fresh process")
    parser.add_argument("--base-vectors", type=int, default=3000, help="real passages embedded as the vector basis")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared bench data folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sweep", dest="sweep", action="store_false", help="skip the nprobes/refine sweep")
    parser.add_argument("--profile", action="store_true", help="cProfile 20 hybrid queries (top 40 by cumulative time)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="embedding.threads in the query process (0: the runtime default, one per core)")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--backend", choices=["lance", "milvus"], default="lance",
                        help="index: LanceDB (default) or Milvus (Lite unless --milvus-uri)")
    parser.add_argument("--milvus-uri", help="a Milvus server, e.g. http://localhost:19530")
    parser.add_argument("--catalog", choices=["sqlite", "postgres"], default="sqlite",
                        help="catalog: SQLite (default) or PostgreSQL")
    parser.add_argument("--catalog-url", help="PostgreSQL URL (default: a throw-away cluster)")
    parser.add_argument("--from-home", type=Path,
                        help="build from this existing build's catalog (copied, not written)")
    parser.add_argument("--no-rerank", dest="rerank", action="store_false",
                        help="skip the hybrid + rerank pass")
    parser.add_argument("--no-sync", dest="sync", action="store_false",
                        help="skip the no-op mnemo.sync (Milvus Lite: it reads every id, minutes at 200k)")
    parser.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.home = args.home.expanduser().resolve()

    if args.child == "build":
        done = build_from(args.home, args) if args.from_home else build(args.home, args)
        print(json.dumps(done))
        return 0
    if args.child == "query":
        print(json.dumps(query_phase(args.home, args)))
        return 0

    with _catalog_server(args):
        return _main(args)


def _catalog_server(args: argparse.Namespace) -> Any:
    """A throw-away PostgreSQL cluster for --catalog postgres without --catalog-url."""
    from contextlib import nullcontext

    if args.catalog != "postgres" or args.catalog_url:
        return nullcontext()
    sys.path.insert(0, str(ROOT / "tests"))
    from contextlib import contextmanager

    from pgcluster import cluster, new_database

    @contextmanager
    def running() -> Any:
        with cluster() as server:
            args.catalog_url = new_database(server)
            say(f"PostgreSQL: {args.catalog_url}")
            yield

    return running()


def _main(args: argparse.Namespace) -> int:
    params = {"chunks": args.chunks, "chunks_per_doc": args.chunks_per_doc, "seed": args.seed,
              "base_vectors": args.base_vectors}
    if args.backend != "lance" or args.catalog != "sqlite" or args.from_home:
        params |= {"backend": args.backend, "catalog": args.catalog,
                   "from_home": str(args.from_home or "")}
    if args.catalog == "postgres":  # a throw-away cluster's URL never comes back: no reuse
        params["catalog_url"] = args.catalog_url
    marker = args.home / MARKER
    results: dict[str, Any] = {"machine": machine(), "params": params}
    saved = json.loads(marker.read_text()) if marker.exists() else None
    if args.reuse and saved and saved.get("params") == params:
        say(f"reusing the build in {args.home}")
        results["build"] = saved["build"]
        results["build"]["reused"] = True
    else:
        say(f"building {args.chunks:,} chunks in {args.home}")
        results["build"] = child("build", args)
        marker.write_text(json.dumps({"params": params, "build": results["build"]}))
    print_build(results["build"])
    results["rounds"] = []
    for n in range(1, args.rounds + 1):
        say(f"\nquery round {n} ...")
        round_ = child("query", args)
        results["rounds"].append(round_)
        print_round(n, round_)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

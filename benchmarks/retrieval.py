"""Retrieval quality and latency on the shared BEIR-format sets, through Mnemo itself.

Each passage of a set's corpus becomes a file (``# title`` + text as Markdown,
or plain text when it has no title) in a scratch folder; ``mnemo.add`` indexes
and embeds them with the default settings; every query then goes through
``mnemo.search`` in each mode. Chunk hits are mapped back to their passage
(best chunk wins). Metrics come from ranx: nDCG@10 and recall@100.

The convex fusion weight is tuned on msmarco only (a grid of dense weights),
then the chosen weight is checked on dbpedia, which played no part in choosing.

    python benchmarks/retrieval.py                      # both sets, default settings
    python benchmarks/retrieval.py --sets msmarco --json out.json

Needs the bench extra (`pip install -e '.[bench]'`) for ranx.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import mnemo

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "data"
WEIGHTS = [round(0.05 * i, 2) for i in range(21)]


def load_set(folder: Path) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / "test.tsv").open() as handle:
        next(handle)
        for line in handle:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def write_corpus(corpus: list[dict[str, str]], folder: Path) -> dict[str, str]:
    """One file per passage; returns file path -> passage id."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for n, doc in enumerate(corpus):
        title = (doc.get("title") or "").strip()
        if title:
            path = folder / f"p{n:06d}.md"
            body = f"# {title}\n\n{doc['text']}\n"
        else:
            path = folder / f"p{n:06d}.txt"
            body = doc["text"] + "\n"
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
        paths[str(path.resolve())] = doc["_id"]
    return paths


def run_queries(
    settings: mnemo.Settings,
    queries: dict[str, str],
    path_to_id: dict[str, str],
    mode: str,
) -> tuple[dict[str, dict[str, float]], list[float]]:
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in queries.items():
        started = time.perf_counter()
        response = mnemo.search(text, settings, k=100, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked: dict[str, float] = {}
        for rank, hit in enumerate(response.hits):
            doc = path_to_id[hit.path]
            ranked.setdefault(doc, 1000.0 - rank)  # best chunk of a passage stands for it
        run[qid] = ranked or {"__none__": 0.0}
    return run, latencies


def evaluate(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    scores = ranx_evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100"])
    return {k: round(float(v), 4) for k, v in scores.items()}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def bench_set(name: str, work: Path, overrides: dict[str, Any], weights: list[float]) -> dict[str, Any]:
    corpus, queries, qrels = load_set(DATA / name)
    queries = {q: t for q, t in queries.items() if q in qrels}
    home = work / name / "home"
    path_to_id = write_corpus(corpus, work / name / "docs")
    settings = mnemo.load_settings(home, overrides)
    started = time.perf_counter()
    report = mnemo.add([work / name / "docs"], settings)
    ingest_s = time.perf_counter() - started
    print(
        f"{name}: {report.counts['indexed']} indexed, {report.embedding.embedded} embedded "
        f"in {ingest_s:.1f} s",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "passages": len(corpus),
        "queries": len(queries),
        "ingest_seconds": round(ingest_s, 1),
        "chunks_embedded": report.embedding.embedded,
        "modes": {},
        "weights": {},
    }
    # Warm-up: the first query loads the model and opens the tables.
    mnemo.search("warm up", settings, mode="hybrid")
    for mode in ("bm25", "dense", "hybrid"):
        run, latencies = run_queries(settings, queries, path_to_id, mode)
        result["modes"][mode] = {
            **evaluate(qrels, run),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
        }
        print(f"  {mode}: {result['modes'][mode]}", file=sys.stderr)
    rrf_settings = mnemo.load_settings(home, {**overrides, "search": {"fusion": "rrf"}})
    run, latencies = run_queries(rrf_settings, queries, path_to_id, "hybrid")
    result["modes"]["hybrid-rrf"] = {
        **evaluate(qrels, run),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
    }
    for weight in weights:
        tuned = mnemo.load_settings(home, {**overrides, "search": {"dense_weight": weight}})
        run, _ = run_queries(tuned, queries, path_to_id, "hybrid")
        result["weights"][str(weight)] = evaluate(qrels, run)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["msmarco", "dbpedia"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "retrieval")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        help="a setting for the run, e.g. embedding.quantize=true")
    parser.add_argument("--no-sweep", action="store_true", help="skip the fusion weight grid")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from mnemo.config.settings import parse_assignments

    overrides = parse_assignments(args.assignments)
    weights = [] if args.no_sweep else WEIGHTS
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "settings": overrides,
        "sets": {name: bench_set(name, args.work, overrides, weights) for name in args.sets},
    }
    if "msmarco" in results["sets"] and weights:
        curve = results["sets"]["msmarco"]["weights"]
        best = max(curve, key=lambda w: (curve[w]["ndcg@10"], -abs(float(w) - 0.5)))
        results["tuned_dense_weight"] = float(best)
        for name, found in results["sets"].items():
            found["at_tuned_weight"] = found["weights"].get(best)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

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


def load_set(
    folder: Path,
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, int]]]:
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
    rerank: bool = False,
) -> tuple[dict[str, dict[str, float]], list[float], dict[str, list[float]]]:
    run: dict[str, dict[str, float]] = {}
    latencies = []
    stages: dict[str, list[float]] = {}
    for qid, text in queries.items():
        started = time.perf_counter()
        response = mnemo.search(text, settings, k=100, mode=mode, rerank=rerank)
        latencies.append((time.perf_counter() - started) * 1000)
        for stage, seconds in response.stages.items():
            stages.setdefault(stage, []).append(seconds)
        ranked: dict[str, float] = {}
        for rank, hit in enumerate(response.hits):
            doc = path_to_id[hit.path]
            ranked.setdefault(doc, 1000.0 - rank)  # best chunk of a passage stands for it
        run[qid] = ranked or {"__none__": 0.0}
    return run, latencies, stages


def evaluate(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]
) -> dict[str, float]:
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    scores = ranx_evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100"])
    return {k: round(float(v), 4) for k, v in scores.items()}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


#: Embedders compared: name -> settings. "before" is the default before ONNX.
VARIANTS: dict[str, dict[str, Any]] = {
    "before": {"embedding": {"backend": "sentence-transformers"}},
    "onnx": {},
    "onnx-int8": {"embedding": {"quantize": True}},
    "bge-small": {"embedding": {"model": "bge-small-en-v1.5"}},
}


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _measure(
    settings: mnemo.Settings,
    queries: dict[str, str],
    path_to_id: dict[str, str],
    qrels: dict[str, dict[str, int]],
    mode: str,
    rerank: bool,
    runs: dict[str, Any],
    label: str,
) -> dict[str, Any]:
    run, latencies, stages = run_queries(settings, queries, path_to_id, mode, rerank)
    runs[label] = run
    found = {
        **evaluate(qrels, run),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "stage_p50_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in stages.items()},
    }
    print(f"  {label}: {found}", file=sys.stderr)
    return found


def bench_set(
    name: str,
    work: Path,
    overrides: dict[str, Any],
    weights: list[float],
    variants: list[str],
    rerank_plan: dict[str, list[tuple[str, int, int]]],
) -> dict[str, Any]:
    corpus, queries, qrels = load_set(DATA / name)
    queries = {q: t for q, t in queries.items() if q in qrels}
    path_to_id = write_corpus(corpus, work / name / "docs")
    result: dict[str, Any] = {"passages": len(corpus), "queries": len(queries), "variants": {}}
    runs: dict[str, Any] = {}
    for variant in variants:
        chosen = _merge(overrides, VARIANTS[variant])
        home = work / name / variant / "home"
        settings = mnemo.load_settings(home, chosen)
        started = time.perf_counter()
        report = mnemo.add([work / name / "docs"], settings)
        ingest_s = time.perf_counter() - started
        print(
            f"{name} / {variant}: {report.counts['indexed']} indexed, "
            f"{report.embedding.embedded} embedded in {ingest_s:.1f} s",
            file=sys.stderr,
        )
        found: dict[str, Any] = {
            "settings": chosen,
            "ingest_seconds": round(ingest_s, 1),
            "chunks_embedded": report.embedding.embedded,
            "modes": {},
            "weights": {},
        }
        # Warm-up: the first query loads the models and opens the tables.
        mnemo.search("warm up", settings, mode="hybrid", rerank=bool(rerank_plan.get(variant)))
        for mode in ("bm25", "dense", "hybrid"):
            found["modes"][mode] = _measure(
                settings, queries, path_to_id, qrels, mode, False, runs, f"{variant}/{mode}"
            )
        rrf = mnemo.load_settings(home, _merge(chosen, {"search": {"fusion": "rrf"}}))
        found["modes"]["hybrid-rrf"] = _measure(
            rrf, queries, path_to_id, qrels, "hybrid", False, runs, f"{variant}/hybrid-rrf"
        )
        for mode, depth, tokens in rerank_plan.get(variant, []):
            tuned = mnemo.load_settings(
                home,
                _merge(
                    chosen, {"search": {"rerank_candidates": depth, "rerank_max_tokens": tokens}}
                ),
            )
            label = f"{mode}+rerank@{depth}/{tokens}t"
            found["modes"][label] = _measure(
                tuned, queries, path_to_id, qrels, mode, True, runs, f"{variant}/{label}"
            )
        for weight in weights if variant == variants[0] else []:
            tuned = mnemo.load_settings(home, _merge(chosen, {"search": {"dense_weight": weight}}))
            run, _, _ = run_queries(tuned, queries, path_to_id, "hybrid", False)
            found["weights"][str(weight)] = evaluate(qrels, run)
        result["variants"][variant] = found
    result["significance"] = significance(qrels, runs, f"{variants[0]}/hybrid")
    return result


def significance(
    qrels: dict[str, dict[str, int]], runs: dict[str, Any], baseline: str
) -> dict[str, Any]:
    """Each run against ``baseline`` and against the best single retriever: paired
    t-test and Fisher's randomisation test (ranx), and per-query wins and losses."""
    from ranx import Qrels, Run, compare, evaluate as ranx_evaluate

    if baseline not in runs:
        return {}
    judged = Qrels(qrels)
    per_query = {
        label: ranx_evaluate(judged, Run(run, name=label), "ndcg@10", return_mean=False)
        for label, run in runs.items()
    }
    out: dict[str, Any] = {}
    for label, run in runs.items():
        if label == baseline:
            continue
        row: dict[str, Any] = {}
        for test in ("student", "fisher"):
            report = compare(
                judged,
                [Run(runs[baseline], name=baseline), Run(run, name=label)],
                metrics=["ndcg@10"],
                stat_test=test,
                max_p=0.05,
            )
            row[f"p_{test}"] = round(
                float(report.comparisons[baseline, label]["ndcg@10"]["p_value"]), 4
            )
        diff = per_query[label] - per_query[baseline]
        row["better"] = int((diff > 1e-9).sum())
        row["worse"] = int((diff < -1e-9).sum())
        out[label] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=["msmarco", "dbpedia"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "retrieval")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        help="a setting for the run, e.g. embedding.quantize=true",
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--rerank",
        action="append",
        default=[],
        metavar="VARIANT:MODE:DEPTH:TOKENS",
        help="a reranked run, e.g. onnx:hybrid:20:256; repeatable",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="the fusion weight grid (first variant)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from mnemo.config.settings import parse_assignments

    overrides = parse_assignments(args.assignments)
    weights = WEIGHTS if args.sweep else []
    plan: dict[str, list[tuple[str, int, int]]] = {}
    for spec in args.rerank:
        variant, mode, depth, tokens = spec.split(":")
        plan.setdefault(variant, []).append((mode, int(depth), int(tokens)))
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "settings": overrides,
        "sets": {
            name: bench_set(name, args.work, overrides, weights, args.variants, plan)
            for name in args.sets
        },
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

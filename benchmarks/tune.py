"""Split tuning on a shared set: tune the search settings on half the queries with
`mnemo eval tune`'s own code, report on the other half.

The index is the one benchmarks/retrieval.py built (its ``before`` variant: the
sentence-transformers embedder; nothing is embedded again). It is copied first,
since it may be read-only. Queries are split in two halves by a hash of their
ids (``mnemo.eval.cases.split``); the grid (dense weight × candidate depth) is
searched on one half (nDCG@10, graded judgements) and the chosen point, the
current defaults, dense only and BM25 only are scored on the other. Then the
halves swap roles. Each passage's best chunk stands for it, as in
benchmarks/retrieval.py.

    python benchmarks/tune.py --home ../wt-bench/bench-out/retrieval/dbpedia/before/home
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval import DATA, load_set  # noqa: E402

import mnemo  # noqa: E402
from mnemo.eval.cases import Case, split  # noqa: E402
from mnemo.eval.tune import best_point, compare, fetch_pools, search_grid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="dbpedia")
    parser.add_argument("--home", type=Path, required=True, help="an indexed benchmark home")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mnemo-bench-tune"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    copy = args.work / args.set / "home"
    if not copy.exists():
        shutil.copytree(args.home, copy, ignore=shutil.ignore_patterns("*.lock", "locks"))
    settings = mnemo.load_settings(copy, {"embedding": {"backend": "sentence-transformers"}})
    _, queries, qrels = load_set(DATA / args.set)
    queries = {q: t for q, t in queries.items() if q in qrels}
    first, second = split([Case(q, t) for q, t in queries.items()])
    started = time.perf_counter()
    with mnemo.Library(settings) as library:
        library.search("warm up", k=1)
        pools = fetch_pools(library, queries, collection=settings.collection)
    fetch_s = time.perf_counter() - started

    def unit(pool: Any, chunk_id: str) -> str:
        # p000123.md is passage 123 of the corpus: its id is looked up in the qrels' terms
        return pool.paths[chunk_id].rsplit("/", 1)[-1].split(".")[0]

    corpus = [json.loads(line) for line in (DATA / args.set / "corpus.jsonl").open()]
    ids = {f"p{n:06d}": doc["_id"] for n, doc in enumerate(corpus)}

    def to_id(pool: Any, chunk_id: str) -> str:
        return ids[unit(pool, chunk_id)]

    now = (settings.search.dense_weight, settings.search.candidates)
    result: dict[str, Any] = {"set": args.set, "queries": len(queries), "fetch_s": fetch_s}
    whole = compare(pools, qrels, {"current": now}, to_id)
    result["all queries"] = whole
    for name, (tune_half, test_half) in {"A→B": (first, second), "B→A": (second, first)}.items():
        tune_pools = {c.id: pools[c.id] for c in tune_half}
        test_pools = {c.id: pools[c.id] for c in test_half}
        tune_qrels = {c.id: qrels[c.id] for c in tune_half}
        test_qrels = {c.id: qrels[c.id] for c in test_half}
        grid = search_grid(tune_pools, tune_qrels, to_id)
        weight, depth, score = best_point(grid, now)
        points = {"current": now, "tuned": (weight, depth)}
        result[name] = {
            "tuned on": len(tune_half),
            "reported on": len(test_half),
            "chosen": {"dense_weight": weight, "candidates": depth, "tuning ndcg@10": score},
            "held out": compare(test_pools, test_qrels, points, to_id),
            "tuning half": compare(tune_pools, tune_qrels, points, to_id),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()

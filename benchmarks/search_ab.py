"""Hybrid ``mnemo.search`` latency and stage means at scale, for two source
trees in the same run (issue 12): each round runs every tree in its own fresh
process, alternating, on the same data directory (read-only use).

    python benchmarks/search_ab.py --home /tmp/scale200k \
        --tree before=/path/to/main/src --tree after=src --rounds 3

Each process warms up (5 queries a mode), then times the 100 shared queries
(50 msmarco, 50 dbpedia) through ``mnemo.search(q, settings, k=10,
mode="hybrid")``, with the stage wrappers of ``benchmarks/scale.py``
(``Stages``), and checks that every tree returns the same ids and scores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(home: Path, data: Path, queries: int, passes: int) -> dict[str, Any]:
    from scale import Stages as _Stages  # a stage run beside the others is reported apart
    from scale import load_queries, loadavg, summary

    import mnemo

    settings = mnemo.load_settings(home, {})
    texts = [t for _, t in load_queries(data, queries // 2)]
    for text in texts[:5]:
        for mode in ("bm25", "dense", "hybrid"):
            mnemo.search(text, settings, k=10, mode=mode)
    load = loadavg()
    latencies: list[float] = []
    results: list[list[tuple[str, float]]] = []
    stages = _Stages()
    stages.patch()
    try:
        for _ in range(passes):
            for text in texts:
                box: dict[str, Any] = {}

                def run(text: str = text, box: dict[str, Any] = box) -> None:
                    box["r"] = mnemo.search(text, settings, k=10, mode="hybrid")

                t0 = time.perf_counter()
                stages.run(run)
                latencies.append((time.perf_counter() - t0) * 1000)
                results.append([(h.chunk_id, round(h.score, 6)) for h in box["r"].hits])
    finally:
        stages.unpatch()
    return {
        "latency": summary(latencies),
        "stages": stages.report(),
        "results": results,
        "loadavg": [load, loadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--tree", action="append", default=[], help="NAME=SRC_DIR, or NAME=SRC_DIR@HOME for a tree that needs its own copy"
                        " of the data (a catalog schema the other tree would migrate) (repeat)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--passes", type=int, default=1, help="times each query is run per process")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/bench/data"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.home, args.data, args.queries, args.passes)))
        return 0
    trees = [t.split("=", 1) for t in args.tree]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    for n in range(args.rounds):
        for name, tree in trees:
            src, _, own_home = tree.partition("@")
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--home",
                    own_home or str(args.home),
                    "--data",
                    str(args.data),
                    "--queries",
                    str(args.queries),
                    "--passes",
                    str(args.passes),
                ],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            out = json.loads(done.stdout.strip().splitlines()[-1])
            runs[name].append(out)
            lat = out["latency"]
            print(
                f"round {n + 1} {name}: p50 {lat['p50_ms']} p95 {lat['p95_ms']} ms, load {out['loadavg']}",
                flush=True,
            )
    first = trees[0][0]
    for name, _ in trees:
        same = all(r["results"] == runs[first][0]["results"] for r in runs[name])
        print(f"\n{name}: results identical to {first} round 1: {same}")
        rows = {s["stage"]: [] for s in runs[name][0]["stages"]}
        for r in runs[name]:
            for s in r["stages"]:
                rows.setdefault(s["stage"], []).append(s["mean_ms"])
        for stage, means in rows.items():
            print(f"  {stage:60s} " + " ".join(f"{m:7.2f}" for m in means))
        for r in runs[name]:
            print(f"  latency {r['latency']}")
    if args.json:
        for rs in runs.values():
            for r in rs:
                r.pop("results")
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

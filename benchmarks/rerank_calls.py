"""Microbenchmark: the packaged cross-encoder's calls, batches one after another on one
session against batches side by side (one thread each, ``cross_encoder.MAX_LANES``).

Real pairs from ``../shared/bench`` msmarco: for each of the first 30 questions, 20
passages (title + newline + text), as the passage rerank reads them, and 24 sentences
of those passages, as the quote check reads them. Each way is Mnemo's own
:class:`OnnxCrossEncoder` with ``threads`` as given (0: what ONNX Runtime picks), one
warm-up call, then every question timed; the ways alternate, round after round, so a
change in machine load hits both. Prints p50 wall and process CPU milliseconds per
call and the largest score change against the first way (0: the same scores).

    python benchmarks/rerank_calls.py --rounds 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "data" / "msmarco"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workloads(questions: int) -> dict[str, tuple[list[str], list[list[str]]]]:
    with (DATA / "queries.jsonl").open() as lines:
        queries = [json.loads(line)["text"] for line in lines][:questions]
    with (DATA / "corpus.jsonl").open() as lines:
        rows = [json.loads(line) for _, line in zip(range(questions * 20), lines, strict=False)]
    passages = [f"{r['title']}\n{r['text']}".strip() for r in rows]
    sentences = [s for p in passages for s in re.split(r"(?<=[.!?])\s+", p) if len(s) > 20]
    return {
        "passages": (queries, [passages[i * 20 : i * 20 + 20] for i in range(questions)]),
        "sentences": (queries, [sentences[i * 24 : i * 24 + 24] for i in range(questions)]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from mnemo.retrieval import cross_encoder

    ways = {"one after another": 1, "side by side": cross_encoder.MAX_LANES}
    # (workload, pairs per call): the passage rerank's default, and the quote check's
    cases = [("passages", 1), ("passages", 16), ("sentences", 16)]
    loads = workloads(args.questions)
    results: list[dict[str, Any]] = []
    for name, batch in cases:
        queries, pairs = loads[name]
        reference: list[np.ndarray] | None = None
        for round_ in range(1, args.rounds + 1):
            for way, lanes in ways.items():
                cross_encoder.MAX_LANES = lanes
                encoder = cross_encoder.OnnxCrossEncoder(
                    None, max_tokens=256, batch_size=batch, threads=args.threads
                )
                encoder.score(queries[0], pairs[0])  # loads the sessions
                walls, cpus, scores = [], [], []
                for query, texts in zip(queries, pairs, strict=True):
                    started, used = time.perf_counter(), cpu_seconds()
                    scores.append(np.array(encoder.score(query, texts)))
                    walls.append(time.perf_counter() - started)
                    cpus.append(cpu_seconds() - used)
                reference = reference or scores
                change = max(float(np.abs(a - b).max()) for a, b in zip(reference, scores))
                row = {
                    "pairs": name,
                    "pairs_per_call": len(pairs[0]),
                    "batch": batch,
                    "way": way,
                    "round": round_,
                    "wall_p50_ms": round(statistics.median(walls) * 1000, 1),
                    "cpu_p50_ms": round(statistics.median(cpus) * 1000, 1),
                    "largest_score_change": change,
                }
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Wall and CPU seconds of one warm extractive ``Library.ask``, and its stages.

Asks the first N msmarco questions (``../shared/bench``) against a data
directory (e.g. ``bench-out/library/home``, which ``benchmarks/library.py``
builds) through one kept ``mnemo.Library``, after one warm-up ask, and prints
one JSON line: p50/p95 wall seconds, p50/p95 process CPU seconds (steadier on
a shared machine than wall time) and the p50 of each stage in
``Answer.seconds``. ``--answers FILE`` writes each answer's kind and text, to
check that two code trees answer alike. Run it with ``PYTHONPATH`` set to the
tree to measure:

    PYTHONPATH=src python benchmarks/ask_stages.py bench-out/library/home --tag after
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT.parent / "shared" / "bench" / "data" / "msmarco" / "queries.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", type=Path, help="the data directory to ask")
    parser.add_argument("-n", type=int, default=12, help="questions to ask (default 12)")
    parser.add_argument("--tag", default="run", help="a name for this run in the output")
    parser.add_argument("--answers", type=Path, help="write each answer's kind and text here")
    args = parser.parse_args()

    import mnemo

    with QUERIES.open() as lines:
        questions = [json.loads(line)["text"] for line in lines][: args.n]
    settings = mnemo.load_settings(args.home)
    walls, cpus, stages, answers = [], [], {}, []
    with mnemo.Library(settings) as library:
        library.ask(questions[0], use_llm=False, cache=False)  # warm-up: models load
        for question in questions:
            wall, cpu = time.perf_counter(), time.process_time()
            answer = library.ask(question, use_llm=False, cache=False)  # each answer made
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            for stage, seconds in (answer.seconds or {}).items():
                stages.setdefault(stage, []).append(seconds)
            answers.append([answer.kind, answer.text])
    result = {
        "tag": args.tag,
        "n": len(questions),
        "wall_p50_s": round(statistics.median(walls), 3),
        "wall_p95_s": round(statistics.quantiles(walls, n=20)[18], 3),
        "cpu_p50_s": round(statistics.median(cpus), 3),
        "cpu_p95_s": round(statistics.quantiles(cpus, n=20)[18], 3),
        "stage_p50_ms": {k: round(statistics.median(v) * 1000) for k, v in stages.items()},
    }
    print(json.dumps(result), flush=True)
    if args.answers:
        args.answers.write_text(json.dumps(answers, indent=0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

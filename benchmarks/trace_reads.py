"""How long answer drift (what `mnemo status` and GET /traces/drift run) and the trace
list (GET /traces, `mnemo traces list`) take on a spans file of a given size (MB; 20 is
where traces.file_mb rotates it). Usage: PYTHONPATH=src python benchmarks/trace_reads.py 20"""

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from mnemo.config import load_settings
from mnemo.tracing import spans_path
from mnemo.tracing.drift import drift
from mnemo.tracing.read import list_traces

home = Path(tempfile.mkdtemp())
settings = load_settings(home)
path = spans_path(settings)
path.parent.mkdir(parents=True, exist_ok=True)
rng = random.Random(0)
size_mb = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
with path.open("w") as f:
    n = 0
    while f.tell() < size_mb * 1e6:
        tid = f"{rng.getrandbits(128):032x}"
        root = f"{rng.getrandbits(64):016x}"
        t0 = 1_700_000_000_000_000_000 + n * 10**9
        f.write(
            json.dumps(
                {
                    "trace_id": tid,
                    "span_id": root,
                    "parent_id": None,
                    "name": "ask",
                    "start_ns": t0,
                    "end_ns": t0 + 5 * 10**8,
                    "status": "ok",
                    "attributes": {
                        "mnemo.question": f"What did the team decide about the launch date of project {n}?",
                        "mnemo.kind": rng.choice(["generated", "extractive", "abstained"]),
                        "mnemo.relevance": rng.random(),
                        "mnemo.relevance_scale": "dense",
                        "mnemo.embedder": "minilm",
                        "mnemo.collection": "default",
                    },
                }
            )
            + "\n"
        )
        for stage in ("retrieve", "search", "embed", "keyword", "generate", "verify"):
            f.write(
                json.dumps(
                    {
                        "trace_id": tid,
                        "span_id": f"{rng.getrandbits(64):016x}",
                        "parent_id": root,
                        "name": stage,
                        "start_ns": t0,
                        "end_ns": t0 + 10**7,
                        "status": "unset",
                        "attributes": {},
                    }
                )
                + "\n"
            )
        n += 1
print(f"{path.stat().st_size / 1e6:.1f} MB, {n} asks, {n * 7} spans")
for label, fn in (
    ("drift", lambda: drift(settings)),
    ("list 20", lambda: list_traces(settings, limit=20)),
):
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    print(f"{label}: median {sorted(times)[1] * 1000:.0f} ms (3 runs)")

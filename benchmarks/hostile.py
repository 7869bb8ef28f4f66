"""Peak memory and time of parsing each hostile file, before and after issue 10.

Each bomb from tests/bombs.py is written at full size, then parsed in a fresh
subprocess twice: "before" with the code under --before (e.g. a checkout of
main before the change, PYTHONPATH=/work/wt-base/src), calling extract()
in-process as it did, capped at RLIMIT_AS 6 GB and 120 s; "after" with this
checkout's worker pool at default settings. Peak memory is the subprocess's
(for "after", the worker's) peak resident set. Prints a Markdown table.

    python benchmarks/hostile.py --before /work/wt-base/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import bombs

CAP_BYTES = 6 * 1024**3
TIMEOUT = 120

BEFORE = """
import json, sys, time
from mnemo.ingest.extract import Job, extract
path = sys.argv[1]
import os
job = Job(path=path, size=os.path.getsize(path), known_hash=None, max_bytes=100_000_000,
          max_pages=5000, max_chunks=20000, max_tokens=200, overlap_tokens=30, tokenizer=None)
started = time.perf_counter()
try:
    result = extract(job)
    out = {"status": result.status, "reason": result.reason}
except MemoryError:
    out = {"status": "MemoryError", "reason": None}
out["seconds"] = time.perf_counter() - started
print(json.dumps(out))
"""

AFTER = """
import json, sys, time
from mnemo.config import IngestSettings
from mnemo.ingest.extract import Job
from mnemo.ingest.pool import Budget, extract_in_processes
if __name__ == "__main__":
    path = sys.argv[1]
    import os
    cfg = IngestSettings()
    job = Job(path=path, size=os.path.getsize(path), known_hash=None,
              max_bytes=int(cfg.max_file_mb * 1e6), max_pages=cfg.max_pages,
              max_chunks=cfg.max_chunks_per_file, max_tokens=200, overlap_tokens=30,
              tokenizer=None, max_text_chars=int(cfg.max_text_mb * 1e6),
              max_inflated_bytes=int(cfg.max_inflated_mb * 1e6),
              max_compression_ratio=cfg.max_compression_ratio)
    started = time.perf_counter()
    budget = Budget(cfg.max_worker_memory_mb, cfg.max_parse_seconds)
    (result,) = extract_in_processes([job], 1, budget)
    print(json.dumps({"status": result.status, "reason": result.reason,
                      "seconds": time.perf_counter() - started,
                      "peak_kb": result.worker_peak_kb}))
"""


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def measure(code: str, path: Path, pythonpath: str, capped: bool) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(code)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, script.name, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=_cap if capped else None,
    )
    timer = threading.Timer(TIMEOUT + 30, proc.kill)  # the "after" pool stops itself at 120 s
    if capped:
        timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    timed_out = not timer.is_alive()
    timer.cancel()
    wall = time.perf_counter() - started
    output = proc.stdout.read().decode() if proc.stdout else ""
    os.unlink(script.name)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        data = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        data = {"status": "died", "reason": f"exit {proc.returncode}"}
    peak_mb = int(data.pop("peak_kb", usage.ru_maxrss)) / 1024  # type: ignore[call-overload]
    if timed_out:
        data = {"status": f"> {TIMEOUT} s", "reason": "stopped by the benchmark"}
    elif capped and (data["status"] in ("MemoryError", "died")):
        data["status"] = "killed at 6 GB"
    data.setdefault("seconds", wall)
    data["peak_mb"] = peak_mb
    return data


def _cell(data: dict[str, object]) -> str:
    status = str(data["status"])
    peak, seconds = float(data["peak_mb"]), float(data["seconds"])  # type: ignore[arg-type]
    return f"{status}, {peak:,.0f} MB, {seconds:.1f} s"


def _short(reason: object, width: int = 70) -> str:
    text = str(reason or "").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="PYTHONPATH of the code before the change")
    parser.add_argument("--only", default="", help="comma-separated bomb names to run")
    args = parser.parse_args()
    after_path = str(ROOT / "src")
    rows = [
        "| file | size | before | before's reason | after | after's reason |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (write, scale_mb) in bombs.BOMBS.items():
            if args.only and name not in args.only.split(","):
                continue
            folder = Path(tmp) / name.replace(" ", "_").replace(":", "")
            folder.mkdir()
            path = write(folder, scale_mb)
            size = path.stat().st_size / 1e6
            before = measure(BEFORE, path, args.before, capped=True)
            after = measure(AFTER, path, after_path, capped=False)
            inside = f" ({scale_mb:,} MB inside)" if scale_mb else ""
            rows.append(
                f"| {name}{inside} | {size:,.2f} MB | {_cell(before)} | "
                f"{_short(before.get('reason'))} | {_cell(after)} | {after.get('reason') or ''} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
            path.unlink()
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""Load test of `mnemo serve` on loopback: mixed search and ask while an upload is ingested.

A fresh data directory under ``bench-out/load/`` gets ``--passages`` MS MARCO
passages (one ``.txt`` file each, from ../shared/bench/data/msmarco), indexed
and embedded with the default settings. The real server then runs as its own
process (``python -m mnemo serve``, rate limit raised out of the way), and
``--clients`` threads, each with its own httpx client, send requests for
``--seconds``: ``POST /collections/default/search`` or, with probability
``--ask-share``, ``POST /collections/default/ask`` (extractive, offline), with
MS MARCO queries. Meanwhile one upload of ``--upload-passages`` passages (a
Markdown file, one section each) is ingested as a background job. Reported:
requests, throughput, p50/p99 latency per kind and overall, errors (any status
but 200/202, or a failed connection; zero is required: the exit code is 1
otherwise) and the upload job's outcome and duration.

    python benchmarks/load.py
    python benchmarks/load.py --clients 20 --seconds 30 --json bench-out/load.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import mnemo
from mnemo.config import load_settings

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "data" / "msmarco"
OUT = Path(__file__).resolve().parents[1] / "bench-out" / "load"


def read_jsonl(path: Path, limit: int) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) == limit:
                break
    return rows


def prepare(passages: int) -> Path:
    """A fresh home with ``passages`` passages indexed; returns it."""
    shutil.rmtree(OUT, ignore_errors=True)
    docs = OUT / "docs"
    docs.mkdir(parents=True)
    for row in read_jsonl(DATA / "corpus.jsonl", passages):
        (docs / f"{row['_id']}.txt").write_text(row["text"], encoding="utf-8")
    home = OUT / "home"
    started = time.perf_counter()
    report = mnemo.add([docs], load_settings(home))
    print(
        f"indexed {report.counts['indexed']} passages in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    command = [
        sys.executable,
        "-m",
        "mnemo",
        "--home",
        str(home),
        "--set",
        "server.rate_limit=10000000",
        "--set",
        "server.max_upload_mb=200",
        "--set",
        "ingest.workers=1",
        "serve",
        "--port",
        str(port),
    ]
    log = (OUT / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None:
            break
    server.kill()
    raise SystemExit(f"the server did not start; see {OUT / 'server.log'}")


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"search": [], "ask": []}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latency[kind].append(seconds)
            else:
                self.errors.append(f"{kind}: {error}")


def client_loop(url: str, queries: list[str], ask_share: float, stop: float, tally: Tally) -> None:
    rng = random.Random()
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < stop:
            kind = "ask" if rng.random() < ask_share else "search"
            field = "question" if kind == "ask" else "query"
            body = {field: rng.choice(queries)}
            started = time.perf_counter()
            try:
                response = client.post(f"/collections/default/{kind}", json=body)
                error = None if response.status_code == 200 else f"{response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            tally.add(kind, time.perf_counter() - started, error)


def upload_job(url: str, passages: list[dict[str, Any]]) -> dict[str, Any]:
    text = "\n\n".join(f"## Passage {row['_id']}\n\n{row['text']}" for row in passages)
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=120) as client:
        files = {"file": ("upload.md", f"# Uploaded passages\n\n{text}\n".encode())}
        response = client.post("/collections/default/documents", files=files)
        if response.status_code != 202:
            return {"state": "rejected", "status": response.status_code, "body": response.text}
        job_id = response.json()["id"]
        while True:
            job = client.get(f"/jobs/{job_id}").json()
            if job["state"] in ("done", "failed"):
                break
            time.sleep(0.5)
    return {
        "state": job["state"],
        "seconds": round(time.perf_counter() - started, 1),
        "counts": (job["report"] or {}).get("counts"),
        "error": job["error"],
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--passages", type=int, default=1000, help="indexed before the run")
    parser.add_argument("--upload-passages", type=int, default=300, help="in the uploaded file")
    parser.add_argument("--ask-share", type=float, default=0.3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    home = prepare(args.passages)
    corpus = read_jsonl(DATA / "corpus.jsonl", args.passages + args.upload_passages)
    queries = [row["text"] for row in read_jsonl(DATA / "queries.jsonl", 500)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(home, port)
    try:
        with httpx.Client(base_url=url, timeout=120) as warm:  # load the embedder once
            warm.post("/collections/default/ask", json={"question": queries[0]}).raise_for_status()
        tally = Tally()
        job: dict[str, Any] = {}
        uploader = threading.Thread(
            target=lambda: job.update(upload_job(url, corpus[args.passages :]))
        )
        stop = time.monotonic() + args.seconds
        clients = [
            threading.Thread(target=client_loop, args=(url, queries, args.ask_share, stop, tally))
            for _ in range(args.clients)
        ]
        started = time.perf_counter()
        uploader.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        elapsed = time.perf_counter() - started
        uploader.join()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)

    every = tally.latency["search"] + tally.latency["ask"]
    result: dict[str, Any] = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "passages": args.passages,
        "requests": len(every) + len(tally.errors),
        "throughput_rps": round(len(every) / elapsed, 1),
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "upload_job": job,
    }
    for kind, values in [*tally.latency.items(), ("all", every)]:
        result[kind] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if tally.errors or job.get("state") != "done" else 0


if __name__ == "__main__":
    sys.exit(main())

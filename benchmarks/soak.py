"""Soak test of `mnemo serve`: mixed searches, asks and uploads for a long time, with the
server's memory and open files sampled every minute. Memory must level off, not climb.

The collection is prepared as in benchmarks/load.py (MS MARCO passages, one file
each, indexed with the default settings), then the real server runs as its own
process. ``--clients`` threads send requests for ``--minutes``: one of them
uploads a small Markdown note (new text each time, so each upload is a real
ingestion job), the others search or ask (``--ask-share``). Every
``--sample-seconds`` the server's resident memory (its own and with its worker
processes), its open file descriptors and its thread count are read from /proc.

Reported: the samples as a table, request counts, errors (any status but
200/202, or a failed connection), and the verdict on growth: the mean RSS of
the last third of the run against the middle third (the first third is warm-up:
models load, caches fill). The exit code is 1 on errors, on a failed upload
job, or when RSS or open files grew by more than ``--max-growth`` between the
two thirds.

    python benchmarks/soak.py                       # 30 minutes, 20 clients
    python benchmarks/soak.py --minutes 3 --sample-seconds 20
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from load import DATA, OUT, free_port, prepare, read_jsonl, start_server


def _proc_status(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                fields[key] = int(value.split()[0])
    return fields


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            direct = [int(p) for p in handle.read().split()]
    except OSError:
        return found
    for child in direct:
        found += [child, *_children(child)]
    return found


def sample(pid: int, started: float) -> dict[str, Any]:
    own = _proc_status(pid)
    tree_kb = own["VmRSS"]
    for child in _children(pid):
        try:
            tree_kb += _proc_status(child)["VmRSS"]
        except (OSError, KeyError):
            continue
    return {
        "minute": round((time.monotonic() - started) / 60, 1),
        "rss_mb": round(own["VmRSS"] / 1024, 1),
        "rss_with_workers_mb": round(tree_kb / 1024, 1),
        "peak_mb": round(own["VmHWM"] / 1024, 1),
        "open_files": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "threads": own["Threads"],
    }


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {"search": 0, "ask": 0, "upload": 0}
        self.errors: list[str] = []
        self.jobs: list[str] = []
        self.lock = threading.Lock()

    def ok(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {what}")


def asker(url: str, queries: list[str], ask_share: float, stop: float, tally: Tally) -> None:
    rng = random.Random()
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < stop:
            kind = "ask" if rng.random() < ask_share else "search"
            body = {("question" if kind == "ask" else "query"): rng.choice(queries)}
            try:
                response = client.post(f"/collections/default/{kind}", json=body)
            except httpx.HTTPError as exc:
                tally.error(kind, f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code == 200:
                tally.ok(kind)
            else:
                tally.error(kind, str(response.status_code))


def uploader(
    url: str, passages: list[dict[str, Any]], every: float, stop: float, tally: Tally
) -> None:
    rng = random.Random(7)
    number = 0
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < stop:
            number += 1
            picked = rng.sample(passages, 5)
            text = "\n\n".join(f"## {row['_id']}\n\n{row['text']}" for row in picked)
            files = {"file": (f"soak-{number}.md", f"# Soak note {number}\n\n{text}\n".encode())}
            try:
                response = client.post("/collections/default/documents", files=files)
            except httpx.HTTPError as exc:
                tally.error("upload", f"{type(exc).__name__}: {exc}")
            else:
                if response.status_code == 202:
                    tally.ok("upload")
                    with tally.lock:
                        tally.jobs.append(response.json()["id"])
                else:
                    tally.error("upload", f"{response.status_code} {response.text[:200]}")
            time.sleep(every)


def third_means(samples: list[dict[str, Any]], key: str) -> tuple[float, float]:
    third = max(1, len(samples) // 3)
    middle = samples[third : 2 * third] or samples[:1]
    last = samples[2 * third :] or samples[-1:]
    return statistics.fmean(s[key] for s in middle), statistics.fmean(s[key] for s in last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20, help="one of them uploads")
    parser.add_argument("--passages", type=int, default=1000, help="indexed before the run")
    parser.add_argument("--ask-share", type=float, default=0.3)
    parser.add_argument("--upload-every", type=float, default=10.0, help="seconds between uploads")
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed, last vs middle")
    parser.add_argument("--json", type=Path, default=OUT.parent / "soak.json")
    args = parser.parse_args()

    home = prepare(args.passages)
    corpus = read_jsonl(DATA / "corpus.jsonl", args.passages + 2000)[args.passages :]
    queries = [row["text"] for row in read_jsonl(DATA / "queries.jsonl", 500)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(home, port)
    samples: list[dict[str, Any]] = []
    tally = Tally()
    try:
        with httpx.Client(base_url=url, timeout=120) as warm:  # load the embedder once
            warm.post("/collections/default/ask", json={"question": queries[0]}).raise_for_status()
        started = time.monotonic()
        stop = started + args.minutes * 60
        threads = [threading.Thread(target=uploader, args=(url, corpus, args.upload_every, stop, tally))]
        threads += [
            threading.Thread(target=asker, args=(url, queries, args.ask_share, stop, tally))
            for _ in range(args.clients - 1)
        ]
        for thread in threads:
            thread.start()
        samples.append(sample(server.pid, started))
        while time.monotonic() < stop:
            time.sleep(min(args.sample_seconds, max(0.0, stop - time.monotonic())))
            samples.append(sample(server.pid, started))
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
        for thread in threads:
            thread.join()
        with httpx.Client(base_url=url, timeout=120) as client:  # let the last jobs finish
            states: dict[str, int] = {}
            for job_id in tally.jobs:
                deadline = time.monotonic() + 300
                while True:
                    job = client.get(f"/jobs/{job_id}").json()
                    if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                states[job["state"]] = states.get(job["state"], 0) + 1
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(120)

    rss_middle, rss_last = third_means(samples, "rss_with_workers_mb")
    fds_middle, fds_last = third_means(samples, "open_files")
    rss_growth = rss_last / rss_middle - 1
    fd_growth = fds_last / fds_middle - 1
    result = {
        "minutes": args.minutes,
        "clients": args.clients,
        "requests": tally.counts,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "upload_jobs": states,
        "rss_mb_middle_third": round(rss_middle, 1),
        "rss_mb_last_third": round(rss_last, 1),
        "rss_growth": round(rss_growth, 3),
        "open_files_middle_third": round(fds_middle, 1),
        "open_files_last_third": round(fds_last, 1),
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    print("\n| minute | RSS MB | RSS with workers MB | peak MB | open files | threads |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s in samples:
        print(
            f"| {s['minute']} | {s['rss_mb']} | {s['rss_with_workers_mb']} | {s['peak_mb']} "
            f"| {s['open_files']} | {s['threads']} |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    failed = tally.errors or set(states) - {"done"}
    return 1 if failed or rss_growth > args.max_growth or fd_growth > args.max_growth else 0


if __name__ == "__main__":
    sys.exit(main())

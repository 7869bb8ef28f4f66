"""What one `search` and one extractive `ask` cost, before and after the Library: catalog
opens per call and milliseconds, in process and as a CLI command.

The msmarco set of ../shared/bench (5,000 passages, one file each, as
benchmarks/retrieval.py writes them) is indexed once with default settings into
``bench-out/library/home``. Then each code tree named on the command line
(``--tree NAME=SRC``, e.g. the main branch before the change and this
checkout) is measured in its own processes against that same home:

- in process: each of the 50 msmarco queries through ``mnemo.search`` and
  ``mnemo.ask`` (the module functions, as a Python user calls them), and, where
  the tree has one, through one kept ``mnemo.Library`` (as the server and the
  CLI use it); p50/p95 milliseconds after one warm-up call, and catalog opens
  per call (``Catalog.__init__`` counted);
- as a command: ``mnemo search Q`` and ``mnemo ask Q`` in a fresh process,
  ``--cli-runs`` times each: p50 wall time and catalog opens per command;
  with ``--served``, also handed to a running ``mnemo serve`` of that home.

    python benchmarks/library.py --tree before=/path/to/main/src --tree after=src
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "data" / "msmarco"
WORK = ROOT / "bench-out" / "library"

_COUNTING = """
import atexit, sys
opened = [0]

class _CountOpens:
    # Counts Catalog.__init__ calls once mnemo.catalog.db is imported, without importing
    # it (and SQLAlchemy) in a command that never opens the catalog: a command handed
    # to a server does not, and its start-up is what is measured.
    def find_spec(self, name, path=None, target=None):
        if name != "mnemo.catalog.db":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            init = module.Catalog.__init__
            def counted(self, *a, **k):
                opened[0] += 1
                init(self, *a, **k)
            module.Catalog.__init__ = counted
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _CountOpens())
"""


def prepare() -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import mnemo
    from retrieval import load_set, write_corpus

    home = WORK / "home"
    # Every query is asked more than once (warm-ups, in process, as commands): with the
    # answer cache on, all but the first would be cached answers, not the work measured.
    home.mkdir(parents=True, exist_ok=True)
    (home / "mnemo.toml").write_text("[cache]\nenabled = false\n")
    if (home / "catalog.db").exists():
        return home
    corpus, _, _ = load_set(DATA)
    write_corpus(corpus, WORK / "docs")
    started = time.perf_counter()
    report = mnemo.add([WORK / "docs"], mnemo.load_settings(home))
    print(
        f"indexed {report.counts['indexed']} passages in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return home


def measure_in_process(home: str, queries: list[str]) -> dict[str, Any]:
    """Runs inside the tree's own interpreter (see main)."""
    exec(_COUNTING, globals())
    import mnemo

    settings = mnemo.load_settings(home)
    out: dict[str, Any] = {}

    def timed(label: str, call: Any) -> None:
        call(queries[0])  # warm-up: models load, caches fill
        opened[0] = 0  # type: ignore[name-defined]  # noqa: F821
        times = []
        stages: dict[str, list[float]] = {}
        for query in queries:
            started = time.perf_counter()
            result = call(query)
            times.append((time.perf_counter() - started) * 1000)
            timings = getattr(result, "stages", None) or getattr(result, "seconds", None)
            for stage, seconds in (timings if isinstance(timings, dict) else {}).items():
                stages.setdefault(stage, []).append(seconds * 1000)
        out[label] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(statistics.quantiles(times, n=20)[18], 1),
            "catalog_opens_per_call": round(opened[0] / len(queries), 2),  # type: ignore[name-defined]  # noqa: F821
        }
        if stages:
            out[label]["stage_p50_ms"] = {k: round(statistics.median(v), 1) for k, v in stages.items()}

    timed("search (mnemo.search)", lambda q: mnemo.search(q, settings))
    timed("ask (mnemo.ask)", lambda q: mnemo.ask(q, settings, use_llm=False))
    if hasattr(settings.answer, "rerank"):  # trees with the packaged reranker
        timed("search --rerank (mnemo.search)", lambda q: mnemo.search(q, settings, rerank=True))
        plain = mnemo.load_settings(home, {"answer": {"rerank": False}})
        timed("ask, no reranking (mnemo.ask)", lambda q: mnemo.ask(q, plain, use_llm=False))
    if hasattr(mnemo, "Library"):
        with mnemo.Library(settings) as library:
            timed("search (Library)", lambda q: library.search(q))
            timed("ask (Library)", lambda q: library.ask(q, use_llm=False))
    return out


def measure_cli(
    src: str, home: str, query: str, runs: int, *, served: bool | str = False
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env["PYTHONPATH"] = src
    env["MNEMO_HOME"] = home
    out = {} if served == "only" else _time_commands(env, query, runs, "command")
    if served:
        with _serving(env, Path(home)):
            out |= _time_commands(env, query, runs, "command, handed to mnemo serve")
    return out


@contextlib.contextmanager
def _serving(env: dict[str, str], home: Path) -> Any:
    """`mnemo serve` for ``home`` until the block ends, once it has published serve.json
    (after loading its models)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while not (home / "serve.json").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("mnemo serve did not publish serve.json")
            time.sleep(0.2)
        yield
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(120)


def _time_commands(env: dict[str, str], query: str, runs: int, how: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for command in ("search", "ask"):
        code = (
            _COUNTING
            + "atexit.register(lambda: print('OPENED', opened[0], file=sys.stderr))\n"
            + "from mnemo.cli.app import main\n"
            + f"sys.exit(main([{command!r}, {query!r}]))\n"
        )
        times, cpu, opens = [], [], []
        for _ in range(runs):
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True
            )
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
            if proc.returncode != 0:
                raise SystemExit(f"mnemo {command} failed:\n{proc.stderr}")
            if ("by the server at" in proc.stdout) != ("mnemo serve" in how):
                raise SystemExit(f"mnemo {command} was not run where expected ({how})")
            opens += [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("OPENED")]
        out[f"mnemo {command} ({how})"] = {
            "p50_s": round(statistics.median(times), 2),
            "cpu_p50_s": round(statistics.median(cpu), 2),  # the command's process, not the server's
            "catalog_opens_per_command": statistics.median(opens),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True,
                        help="NAME=path/to/src, or NAME=path/to/src@HOME to query that data directory")
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--served", action="store_true",
                        help="also time the commands handed to a running `mnemo serve`")
    parser.add_argument("--cli-only", action="store_true",
                        help="time the commands only, not the 50 queries in process")
    parser.add_argument("--served-only", action="store_true",
                        help="with --cli-only: time the commands handed to `mnemo serve` only")
    parser.add_argument("--json", type=Path, default=WORK / "results.json")
    parser.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)  # home, queries file
    args = parser.parse_args()
    if args._measure:
        home, queries_file = args._measure
        queries = json.loads(Path(queries_file).read_text())
        print(json.dumps(measure_in_process(home, queries)))
        return 0

    queries = [json.loads(line)["text"] for line in (DATA / "queries.jsonl").open()]
    WORK.mkdir(parents=True, exist_ok=True)
    queries_file = WORK / "queries.json"
    queries_file.write_text(json.dumps(queries))
    results: dict[str, Any] = {}
    for tree in args.tree:
        name, _, src = tree.partition("=")
        src, _, own_home = src.partition("@")
        home = Path(own_home) if own_home else prepare()
        src = str(Path(src).resolve())
        env = {**os.environ, "PYTHONPATH": src}
        results[name] = {}
        if not args.cli_only:
            proc = subprocess.run(
                [sys.executable, __file__, "--tree", tree, "--_measure", str(home), str(queries_file)],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(f"{name}: {proc.stderr}")
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] |= measure_cli(
            src, str(home), queries[1], args.cli_runs,
            served="only" if args.served_only else args.served,
        )
        print(name, json.dumps(results[name], indent=2), file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    labels = sorted({label for found in results.values() for label in found})
    names = list(results)
    print("| call | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for label in labels:
        cells = []
        for name in names:
            found = results[name].get(label)
            if found is None:
                cells.append("—")
            elif "p50_ms" in found:
                cells.append(
                    f"p50 {found['p50_ms']} ms, p95 {found['p95_ms']} ms, "
                    f"{found['catalog_opens_per_call']} catalog opens"
                )
            else:
                cpu = f" (CPU {found['cpu_p50_s']} s)" if "cpu_p50_s" in found else ""
                cells.append(
                    f"p50 {found['p50_s']} s{cpu}, {found['catalog_opens_per_command']} catalog opens"
                )
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

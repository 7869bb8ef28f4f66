"""Extraction in worker processes, each file within a memory and a time budget.

Untrusted files are always parsed in worker processes (:mod:`mnemo.ingest.worker`),
never in the calling process: a hostile file may exhaust memory, run for ever
or crash a native library (pdfium, lxml). Each worker gets one file at a time.
A worker that runs out of memory, dies or runs past ``seconds`` costs only its
own file, which is reported failed with the reason; the worker is replaced and
every other file goes on.

Workers are forked from a fork server that has imported the parsers once, so
starting one costs milliseconds, not an interpreter start-up per file.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from typing import Any

from mnemo.ingest.extract import Extracted, Job
from mnemo.ingest.worker import MORE_TIME, PRELOAD, serve

_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Budget:
    """What each file may cost its worker."""

    memory_mb: int
    seconds: float


def context() -> BaseContext:
    """A fork server with the parsers preloaded where there is one; else spawn.

    Called early, it starts the fork server, which imports the parsers while the
    caller gets on with other work.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()  # first: starting it unblocks SIGINT again
    with _main_hidden(), _sigint_blocked():
        forkserver.ensure_running()
    return ctx


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Start processes with SIGINT blocked, and hold back a Ctrl-C until they are started.

    Ctrl-C reaches the whole process group, and it is the parent that stops its
    workers: a child inherits the blocked signal (the fork server would otherwise
    die with a traceback if Ctrl-C came while it imports the parsers). In the parent,
    a KeyboardInterrupt in the middle of a start left a half-started worker that
    printed a traceback; it is raised once the start is done instead.
    """
    held: list[tuple[int, Any]] = []
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            signal.signal(signal.SIGINT, lambda signum, frame: held.append((signum, frame)))
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if callable(handler):
            signal.signal(signal.SIGINT, handler)
            if held:
                handler(*held[0])


_hiding = threading.Lock()


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Start processes without telling them the calling program's main module.

    Spawned and fork-server children run the parent's main script again (as
    ``__mp_main__``) unless it is guarded by ``if __name__ == "__main__"``; a
    user's script that calls ``mnemo.add`` unguarded would then add again in
    every worker. Workers need nothing from it (their code is in mnemo), so
    the main module's name and path are kept from them.
    """
    main = sys.modules.get("__main__")
    with _hiding:
        if main is None:
            yield
            return
        saved_file = main.__dict__.pop("__file__", None)
        saved_spec = main.__dict__.get("__spec__")
        main.__spec__ = None
        try:
            yield
        finally:
            main.__spec__ = saved_spec
            if saved_file is not None:
                main.__file__ = saved_file


def _failed(job: Job, reason: str, peak_kb: int = 0) -> Extracted:
    return Extracted(
        path=job.path, status="failed", size=job.size, reason=reason, worker_peak_kb=peak_kb
    )


def _vm_hwm_kb(pid: int | None) -> int:
    """Peak resident memory of a live process (Linux), or 0."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _Worker:
    def __init__(self, ctx: BaseContext, budget: Budget) -> None:
        self.conn, child = ctx.Pipe()
        self.process: Any = ctx.Process(  # type: ignore[attr-defined]
            target=serve, args=(child, budget.memory_mb), daemon=True
        )
        with _main_hidden(), _sigint_blocked():
            self.process.start()
        child.close()
        self.job: Job | None = None
        self.deadline = 0.0

    def give(self, job: Job, seconds: float) -> None:
        self.job, self.deadline = job, time.monotonic() + seconds
        self.conn.send(job)

    def kill(self) -> int:
        """Stop now; return its peak resident memory (KiB) if it could be read."""
        peak = _vm_hwm_kb(self.process.pid)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        return peak

    def stop(self) -> None:
        if self.job is None and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(_STOP_SECONDS)
        if self.process.is_alive():
            self.kill()
        self.conn.close()


def died(job: Job, budget: Budget) -> Extracted:
    return _failed(
        job,
        "the parser crashed on this file, or it ran out of its "
        f"{budget.memory_mb:,} MB memory budget (ingest.max_worker_memory_mb); damaged or "
        "hostile file? It was left out, everything else went on",
    )


def timed_out(job: Job, budget: Budget, peak_kb: int) -> Extracted:
    return _failed(
        job,
        f"parsing took longer than {budget.seconds:g} s (ingest.max_parse_seconds); "
        "it was stopped and left out",
        peak_kb,
    )


def extract_in_processes(
    jobs: list[Job], workers: int, budget: Budget, ctx: BaseContext | None = None
) -> Iterator[Extracted]:
    """Yield each job's result, in completion order, from ``workers`` processes."""
    ctx = ctx or context()
    queue: deque[Job] = deque(jobs)
    pool = [_Worker(ctx, budget) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        while True:
            for worker in pool:
                if worker.job is None and queue:
                    worker.give(queue.popleft(), budget.seconds)
            busy = [w for w in pool if w.job is not None]
            if not busy:
                return
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout))
            for index, worker in enumerate(pool):
                job = worker.job
                if job is None:
                    continue
                result, replace = _collect(worker, job, ready, budget)
                if result is None:
                    continue
                if replace:
                    pool[index] = _Worker(ctx, budget)
                yield result
    finally:
        for worker in pool:
            worker.stop()


def _collect(
    worker: _Worker, job: Job, ready: set[Any], budget: Budget
) -> tuple[Extracted | None, bool]:
    """The worker's result if it has one (or its death or timeout); and whether to replace it."""
    if worker.conn in ready or worker.process.sentinel in ready:
        try:
            message = worker.conn.recv()
            while message[0] == MORE_TIME:  # a slow step (an OCR'd page) announced itself
                worker.deadline += float(message[1])
                if not worker.conn.poll():
                    return None, False
                message = worker.conn.recv()
            result, retiring = message
        except (EOFError, OSError):
            worker.job = None
            worker.kill()
            return died(job, budget), True
        worker.job = None
        if retiring:
            worker.process.join(_STOP_SECONDS)
            worker.stop()
        return result, retiring
    if time.monotonic() >= worker.deadline:
        worker.job = None
        return timed_out(job, budget, worker.kill()), True
    return None, False

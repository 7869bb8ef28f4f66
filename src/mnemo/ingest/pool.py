"""Extraction in worker processes, surviving a parser that crashes its process.

A native library (pdfium, lxml) can take a whole process down on a hostile
file. When that happens the pool breaks and every job in flight is lost with
it; those jobs are then retried one at a time in a fresh pool, so the file that
crashes is found, reported as failed, and every other file is still indexed.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from mnemo.ingest.extract import Extracted, Job, extract


def crashed(job: Job) -> Extracted:
    return Extracted(
        path=job.path,
        status="failed",
        size=job.size,
        reason="the parser crashed on this file (damaged or hostile file?); "
        "it was left out, everything else went on",
    )


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def extract_in_processes(jobs: list[Job], workers: int) -> Iterator[Extracted]:
    """Yield each job's result, in completion order."""
    queue: deque[Job] = deque(jobs)
    suspects: deque[Job] = deque()
    while queue or suspects:
        pool = _pool(workers)
        pending: dict[Future[Extracted], Job] = {}
        try:
            # Jobs that were in flight when a worker died: one at a time.
            while suspects:
                job = suspects.popleft()
                try:
                    yield pool.submit(extract, job).result()
                except BrokenProcessPool:
                    yield crashed(job)
                    break
            else:
                while queue or pending:
                    while queue and len(pending) < 4 * workers:
                        job = queue.popleft()
                        pending[pool.submit(extract, job)] = job
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    broken = False
                    for future in done:
                        job = pending.pop(future)
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            suspects.append(job)
                            broken = True
                    if broken:
                        suspects.extend(pending.values())
                        pending.clear()
                        break
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

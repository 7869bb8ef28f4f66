"""Ingestion as background jobs: queued in the catalog, run by worker threads of
any server process that shares it.

A job adds paths to a collection with :meth:`mnemo.Library.add`, reading only files
that resolve inside the server's readable folders; its progress (files done of
files found) comes from the run's events and is saved as it goes, and its final
per-file report when it ends.

The queue is the catalog's ``jobs`` table, not a process's memory: every
server process's workers claim the oldest queued job there
(:func:`~mnemo.catalog.jobs.claim_next`: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one writer at a time on SQLite) and hold the job's lock
(:mod:`mnemo.server.job_locks`) while it runs. A job submitted to one process
starts there at once if a worker is free, else in whichever process has one
first (each looks every ``server.job_poll_interval`` seconds). The job list,
the queue depth and cancelling are the same from every process.

A job still marked running whose lock nobody holds was left by a process that
died; any process takes it over at its next look. It may be what killed that
process, so each job counts its attempts: one that was interrupted by a crash
``server.max_job_attempts`` times is failed rather than started again. A job
can be cancelled from any process (queued: at once; running: at its next file,
keeping what was indexed). Queries keep working meanwhile: they read committed
catalog rows only.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from filelock import Timeout
from sqlalchemy import func, select

from mnemo.catalog.collections import get_collection
from mnemo.catalog.jobs import (
    JobInfo,
    cancel_job,
    claim_next,
    get_job,
    has_queued,
    job_info,
    list_jobs,
    lock_running,
    running_job_ids,
)
from mnemo.catalog.models import Job, utcnow
from mnemo.errors import JobNotFoundError, MnemoError
from mnemo.events import Event
from mnemo.library import Library
from mnemo.server.errors import ApiError
from mnemo.server.job_locks import clean_stale_locks, job_lock
from mnemo.server.paths import readable_roots

log = logging.getLogger("mnemo.server")
_SAVE_EVERY = 0.5  # seconds between progress writes

__all__ = ["JobInfo", "JobRunner"]


class _Stopped(Exception):
    """Raised from a job's event handler to stop it: at shutdown (requeued) or when cancelled."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "requeued")
        self.cancelled = cancelled


class JobRunner:
    """Runs at most ``server.max_running_jobs`` jobs at once, in daemon threads, taking
    them from the catalog's queue, which other server processes may share."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.settings = settings = library.settings
        self.catalog = library.catalog
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._reaping = threading.Lock()
        self._reaped_at = 0.0
        self._cancelled: set[str] = set()
        self.confine = readable_roots(settings)

    def start(self) -> None:
        """Take over the jobs left running by processes that died, remove stale job lock
        files, then start the workers (they pick up what is queued)."""
        removed = clean_stale_locks(self.settings)
        if removed:
            log.info("removed %d stale job lock file(s)", removed)
        self.reap()
        for number in range(self.settings.server.max_running_jobs):
            thread = threading.Thread(target=self._work, name=f"mnemo-job-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def reap(self) -> list[str]:
        """Requeue (or fail, or finish cancelling) the running jobs whose process died:
        those whose lock nobody holds. The ids handled.

        A job still marked running was interrupted by a crash (a clean shutdown
        requeues its jobs); after ``server.max_job_attempts`` such starts it is
        failed instead, so a file that takes the server down cannot do it forever.
        """
        with self._reaping:
            self._reaped_at = time.monotonic()
            with self.catalog.session(readonly=True) as session:
                running = running_job_ids(session)
            with self._lock:
                candidates = [j for j in running if j not in self._running]
            return [job_id for job_id in candidates if self._take_over(job_id)]

    def _take_over(self, job_id: str) -> bool:
        lock = job_lock(self.settings, job_id)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False  # its process is alive and running it
        limit = self.settings.server.max_job_attempts
        try:
            with self.catalog.session() as session:
                job = lock_running(session, job_id)  # re-read under the lock
                if job is None:
                    return False  # it finished meanwhile
                if job.cancel_requested or job.attempts >= limit:
                    job.finished_at = utcnow()
                    job.state = "cancelled" if job.cancel_requested else "failed"
                    job.error = (
                        "cancelled; the server stopped while it ran"
                        if job.cancel_requested
                        else f"the server stopped while running this job {job.attempts} time(s); "
                        "it was not started again (server.max_job_attempts). Check the job's "
                        "files, remove the one at fault, and submit it again"
                    )
                    log.warning("job %s %s: %s", job_id, job.state, job.error)
                else:
                    job.state = "queued"
                    job.error = "resumed: the server stopped while it ran"
                    log.info("job %s requeued: the process running it stopped", job_id)
        finally:
            lock.release()
        self._wake.set()
        return True

    def submit(self, collection: str, paths: list[str]) -> JobInfo:
        if self.depth() >= self.settings.server.max_queued_jobs:
            raise ApiError(
                429,
                "queue_full",
                f"{self.settings.server.max_queued_jobs} ingestion jobs are already waiting "
                "(server.max_queued_jobs); try again when some have finished",
                {"Retry-After": "30"},
            )
        with self.catalog.session() as session:
            coll = get_collection(session, collection)
            job = Job(id=uuid.uuid4().hex, collection_id=coll.id, paths=paths, state="queued")
            session.add(job)
            session.flush()
            info = job_info(job, coll.name)
        self._wake.set()  # a free worker here starts it at once
        return info

    def get(self, job_id: str) -> JobInfo | None:
        with self.catalog.session(readonly=True) as session:
            try:
                return get_job(session, job_id)
            except JobNotFoundError:
                return None

    def list(self, collection: str) -> list[JobInfo]:
        with self.catalog.session(readonly=True) as session:
            return list_jobs(session, get_collection(session, collection))

    def cancel(self, job_id: str) -> JobInfo:
        """Cancel a queued job, or ask a running one to stop at its next file."""
        with self.catalog.session() as session:
            info = cancel_job(session, job_id)
        if info.cancel_requested:
            with self._lock:
                self._cancelled.add(job_id)
        return info

    def depth(self) -> int:
        """Jobs waiting to run."""
        with self.catalog.session(readonly=True) as session:
            count = session.scalar(
                select(func.count()).select_from(Job).where(Job.state == "queued")
            )
            return count or 0

    def shutdown(self, timeout: float) -> None:
        """Let running jobs finish for up to ``timeout`` seconds, then stop and requeue them
        (any process sharing the catalog may then run them)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            unfinished = set(self._running)
        if not unfinished:
            return
        self._abort.set()  # the running jobs stop at their next event and requeue themselves
        for thread in self._threads:
            thread.join(2.0)
        with self._lock:
            stuck = set(self._running)
        for job_id in stuck:  # still inside one file: requeue it from here
            self._requeue(job_id)
        log.info("requeued %d running job(s) at shutdown", len(unfinished))

    def _work(self) -> None:
        poll = self.settings.server.job_poll_interval
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._reaped_at >= poll and not self._reaping.locked():
                    self.reap()
                claimed = self._claim()
            except Exception:  # the catalog may be briefly unreachable: look again later
                log.exception("could not look for queued jobs")
                claimed = None
            if claimed is None:
                if self._wake.wait(poll):
                    self._wake.clear()
                continue
            job_id, lock = claimed
            try:
                self._run_claimed(job_id)
            except Exception:  # a broken job must not kill the worker
                log.exception("job %s failed unexpectedly", job_id)
            finally:
                lock.release()  # after the job's final state is committed
            self._wake.set()  # another job may be waiting: look again at once

    def _claim(self) -> tuple[str, Any] | None:
        """The oldest queued job, marked running in the catalog, with its lock held."""
        with self.catalog.session(readonly=True) as session:
            if not has_queued(session):
                return None  # the cheap look: no write lock taken
        held: dict[str, Any] = {}

        def take(job_id: str) -> bool:
            lock = job_lock(self.settings, job_id)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False  # a stopped runner still winds it down
            held[job_id] = lock
            return True

        try:
            with self.catalog.session() as session:
                job = claim_next(session, take)
                if job is None:
                    return None
                job_id = job.id
                with self._lock:
                    self._running.add(job_id)
                    self._cancelled.discard(job_id)
        except BaseException:
            for lock in held.values():
                lock.release()
            with self._lock:
                self._running.difference_update(held)
            raise
        return job_id, held[job_id]

    def _run_claimed(self, job_id: str) -> None:
        try:
            with self.catalog.session(readonly=True) as session:
                job = session.get(Job, job_id)
                if job is None:
                    return
                collection = get_job(session, job_id).collection
                paths = list(job.paths)
                # A resumed job counts on from where it stopped.
                progress = _Progress(self, job_id, job.files_done)
            try:
                report = self.library.add(
                    paths,
                    collection=collection,
                    on_event=progress,
                    confine=self.confine,
                )
            except _Stopped as stop:
                if stop.cancelled:
                    self._finish(job_id, "cancelled", progress, {}, "cancelled while it ran; "
                                 "files indexed before that were kept")
                else:
                    self._requeue(job_id)  # shutting down: under its lock still
            except MnemoError as exc:
                self._finish(job_id, "failed", progress, {}, str(exc))
            else:
                data = report.to_dict()
                summary = {
                    "counts": data["counts"],
                    "files": data["outcomes"],
                    "embedding_error": data["embedding"]["error"],
                }
                self._finish(job_id, "done", progress, summary, None)
        finally:
            with self._lock:
                self._running.discard(job_id)

    def _requeue(self, job_id: str) -> None:
        with self.catalog.session() as session:
            job = session.get(Job, job_id)
            if job is not None and job.state == "running":
                job.state = "queued"
                job.attempts -= 1  # a clean stop is not a crash: not counted
                job.error = "requeued: the server stopped while it ran"

    def _finish(
        self,
        job_id: str,
        state: str,
        progress: _Progress,
        report: dict[str, Any],
        error: str | None,
    ) -> None:
        with self.catalog.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.state, job.error, job.report = state, error, report
            job.files_done, job.files_total = progress.done, progress.total
            job.finished_at = utcnow()

    def save_progress(self, job_id: str, done: int, total: int) -> bool:
        """Save a job's progress; True when it was asked to stop meanwhile (by this
        server, or by another process such as `mnemo jobs cancel`)."""
        with self.catalog.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return False
            job.files_done, job.files_total = done, total
            return bool(job.cancel_requested)

    @property
    def aborting(self) -> bool:
        return self._abort.is_set()

    def cancelled(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled


class _Progress:
    """A job's event handler: counts files and saves progress now and then."""

    def __init__(self, runner: JobRunner, job_id: str, done_before: int = 0) -> None:
        self.runner = runner
        self.job_id = job_id
        self.before = done_before
        self.done = done_before
        self.total = done_before
        self._saved = 0.0

    def __call__(self, event: Event) -> None:
        if self.runner.aborting:
            raise _Stopped(cancelled=False)
        if self.runner.cancelled(self.job_id):
            raise _Stopped(cancelled=True)
        if event.kind == "scanned":
            self.total = self.before + event.total
        elif event.kind == "file":
            self.done += 1
            self.total = max(self.total, self.done)
        now = time.monotonic()
        if now - self._saved >= _SAVE_EVERY:
            self._saved = now
            if self.runner.save_progress(self.job_id, self.done, self.total):
                raise _Stopped(cancelled=True)

"""Ingestion as background jobs: queued in the catalog, run by worker threads.

A job adds paths to a collection with :meth:`mnemo.Library.add`, reading only files
that resolve inside the server's readable folders; its progress (files done of
files found) comes from the run's events and is saved as it goes, and its final
per-file report when it ends. Jobs live in the catalog, so a server that stops
with jobs queued or running requeues them when it starts again; a re-run is
safe because ingestion is incremental and crash-safe.

A job the server was running when it died may be what killed it, so each job
counts its attempts: one that was interrupted by a crash ``server.max_job_attempts``
times is failed rather than started again. A job can be cancelled (queued: at
once; running: at its next file, keeping what was indexed). Queries keep
working meanwhile: they read committed catalog rows only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any

from sqlalchemy import func, select

from filelock import Timeout

from mnemo.catalog.jobs import JobInfo, cancel_job, claim_job, get_job, job_info, list_jobs
from mnemo.catalog.models import Job, utcnow
from mnemo.library import Library
from mnemo.errors import JobNotFoundError, MnemoError
from mnemo.events import Event
from mnemo.catalog.collections import get_collection
from mnemo.server.errors import ApiError
from mnemo.server.job_locks import job_lock, running_elsewhere
from mnemo.server.paths import readable_roots

log = logging.getLogger("mnemo.server")
_SAVE_EVERY = 0.5  # seconds between progress writes
_LOCK_WAIT = 30.0  # seconds a worker waits for a job's lock before looking again

__all__ = ["JobInfo", "JobRunner"]


class _Stopped(Exception):
    """Raised from a job's event handler to stop it: at shutdown (requeued) or when cancelled."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "requeued")
        self.cancelled = cancelled


class JobRunner:
    """Runs at most ``server.max_running_jobs`` jobs at once, in daemon threads."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.settings = settings = library.settings
        self.catalog = library.catalog
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self.confine = readable_roots(settings)

    def start(self) -> None:
        """Requeue what a previous server left queued or running, then start the workers.

        A job still marked running was interrupted by a crash (a clean shutdown
        requeues its jobs); after ``server.max_job_attempts`` such starts it is
        failed instead, so a file that takes the server down cannot do it forever.
        """
        limit = self.settings.server.max_job_attempts
        requeue: list[str] = []
        with self.catalog.session() as session:
            left = session.scalars(
                select(Job).where(Job.state.in_(("queued", "running"))).order_by(Job.created_at)
            )
            for job in left:
                if job.state == "running" and running_elsewhere(self.settings, job.id):
                    continue  # another server process sharing the catalog runs it
                if job.state == "running" and (job.cancel_requested or job.attempts >= limit):
                    job.finished_at = utcnow()
                    job.state = "cancelled" if job.cancel_requested else "failed"
                    job.error = (
                        "cancelled; the server stopped while it ran"
                        if job.cancel_requested
                        else f"the server stopped while running this job {job.attempts} time(s); "
                        "it was not started again (server.max_job_attempts). Check the job's "
                        "files, remove the one at fault, and submit it again"
                    )
                    log.warning("job %s failed: %s", job.id, job.error)
                    continue
                if job.state == "running":
                    job.error = "resumed: the server stopped while it ran"
                job.state = "queued"
                requeue.append(job.id)
        for job_id in requeue:
            self._queue.put(job_id)
        for number in range(self.settings.server.max_running_jobs):
            thread = threading.Thread(target=self._work, name=f"mnemo-job-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

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
        self._queue.put(info.id)
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
        """Let running jobs finish for up to ``timeout`` seconds, then stop and requeue them."""
        self._stop.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            unfinished = set(self._running)
        if unfinished:
            self._abort.set()  # the running jobs stop at their next event
            for thread in self._threads:
                thread.join(2.0)
            with self.catalog.session() as session:
                for job_id in unfinished:
                    job = session.get(Job, job_id)
                    if job is not None and job.state == "running":
                        job.state = "queued"
                        job.attempts -= 1  # a clean stop is not a crash: not counted
                        job.error = "requeued: the server stopped while it ran"
            log.info("requeued %d running job(s) at shutdown", len(unfinished))

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stop.is_set():
                return
            try:
                self._run(job_id)
            except Exception:  # a broken job must not kill the worker
                log.exception("job %s failed unexpectedly", job_id)

    def _run(self, job_id: str) -> None:
        with self.catalog.session(readonly=True) as session:
            job = session.get(Job, job_id)
            if job is None or job.state != "queued":
                return  # done, cancelled, or claimed by another server process
        # The lock is busy while a runner that was stopped and requeued the job
        # winds down (here or in another process): wait for it, then claim.
        lock = job_lock(self.settings, job_id)
        try:
            lock.acquire(timeout=_LOCK_WAIT)
        except Timeout:
            if not self._stop.is_set():
                self._queue.put(job_id)  # still held: look again later
            return
        try:
            self._run_claimed(job_id)
        finally:
            lock.release()

    def _run_claimed(self, job_id: str) -> None:
        with self.catalog.session() as session:
            job = claim_job(session, job_id)
            if job is None:
                return
            job.state, job.started_at = "running", utcnow()
            job.attempts = (job.attempts or 0) + 1
            job.cancel_requested = False
            collection = get_job(session, job_id).collection
            paths = list(job.paths)
            # A resumed job counts on from where it stopped.
            progress = _Progress(self, job_id, job.files_done)
        with self._lock:
            self._running.add(job_id)
            self._cancelled.discard(job_id)
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
            return  # when not cancelled, shutdown() puts it back in the queue
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

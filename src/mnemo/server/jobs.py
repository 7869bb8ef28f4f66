"""Ingestion as background jobs: queued in the catalog, run by worker threads.

A job adds paths to a collection with :func:`mnemo.api.add`; its progress
(files done of files found) comes from the run's events and is saved as it
goes, and its final per-file report when it ends. Jobs live in the catalog, so
a server that stops with jobs queued or running requeues them when it starts
again; a re-run is safe because ingestion is incremental and crash-safe.
Queries keep working meanwhile: they read committed catalog rows only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from mnemo import api
from mnemo.catalog import Catalog, Collection
from mnemo.catalog.models import Job, utcnow
from mnemo.config import Settings
from mnemo.errors import MnemoError
from mnemo.ingest.events import Event
from mnemo.ingest.sources import get_collection
from mnemo.server.errors import ApiError

log = logging.getLogger("mnemo.server")
_SAVE_EVERY = 0.5  # seconds between progress writes


class _Requeued(Exception):
    """Raised from a job's event handler to stop it at shutdown; the job goes back in the queue."""


@dataclass(frozen=True)
class JobInfo:
    id: str
    collection: str
    paths: list[str]
    state: str
    files_done: int
    files_total: int
    report: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobRunner:
    """Runs at most ``server.max_running_jobs`` jobs at once, in daemon threads."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Requeue what a previous server left queued or running, then start the workers."""
        with self.catalog.session() as session:
            left = list(
                session.scalars(
                    select(Job).where(Job.state.in_(("queued", "running"))).order_by(Job.created_at)
                )
            )
            for job in left:
                job.state = "queued"
        for job in left:
            self._queue.put(job.id)
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
            info = _info(job, coll.name)
        self._queue.put(info.id)
        return info

    def get(self, job_id: str) -> JobInfo | None:
        with self.catalog.session(readonly=True) as session:
            job = session.get(Job, job_id)
            if job is None:
                return None
            return _info(job, session.get(Collection, job.collection_id).name)  # type: ignore[union-attr]

    def list(self, collection: str) -> list[JobInfo]:
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, collection)
            jobs = session.scalars(
                select(Job).where(Job.collection_id == coll.id).order_by(Job.created_at.desc())
            )
            return [_info(job, coll.name) for job in jobs]

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
        with self.catalog.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.state != "queued":
                return
            job.state, job.started_at = "running", utcnow()
            job.files_done = job.files_total = 0
            collection = session.get(Collection, job.collection_id).name  # type: ignore[union-attr]
            paths = list(job.paths)
        with self._lock:
            self._running.add(job_id)
        progress = _Progress(self, job_id)
        try:
            report = api.add(paths, self.settings, collection=collection, on_event=progress)
        except _Requeued:
            return  # shutdown() puts it back in the queue
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

    def save_progress(self, job_id: str, done: int, total: int) -> None:
        with self.catalog.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.files_done, job.files_total = done, total

    @property
    def aborting(self) -> bool:
        return self._abort.is_set()


class _Progress:
    """A job's event handler: counts files and saves progress now and then."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self.runner = runner
        self.job_id = job_id
        self.done = 0
        self.total = 0
        self._saved = 0.0

    def __call__(self, event: Event) -> None:
        if self.runner.aborting:
            raise _Requeued()
        if event.kind == "scanned":
            self.total = event.total
        elif event.kind == "file":
            self.done += 1
        now = time.monotonic()
        if now - self._saved >= _SAVE_EVERY:
            self._saved = now
            self.runner.save_progress(self.job_id, self.done, self.total)


def _info(job: Job, collection: str) -> JobInfo:
    return JobInfo(
        job.id,
        collection,
        list(job.paths),
        job.state,
        job.files_done,
        job.files_total,
        dict(job.report or {}),
        job.error,
        job.created_at,
        job.started_at,
        job.finished_at,
    )

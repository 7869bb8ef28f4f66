"""Ingestion jobs as the catalog keeps them: read, list and cancel, from any process.

The server runs jobs (:mod:`mnemo.server.jobs`); the CLI, the REST API and MCP
can all list and cancel them here. A queued job is cancelled at once; a running
one is asked to stop, and its runner stops it at the next file (it watches the
``cancel_requested`` flag), keeping what was already indexed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Collection, Job, utcnow
from mnemo.errors import JobNotFoundError

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class JobInfo:
    id: str
    collection: str
    paths: list[str]
    state: JobState
    files_done: int
    files_total: int
    report: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = 0
    cancel_requested: bool = False
    runner_host: str | None = None  # the process that runs it, or last ran it
    runner_pid: int | None = None

    @property
    def runner(self) -> str:
        """``host:pid`` of the process that runs (or last ran) the job; "" if none has."""
        return f"{self.runner_host}:{self.runner_pid}" if self.runner_pid is not None else ""


def job_info(job: Job, collection: str) -> JobInfo:
    return JobInfo(
        job.id,
        collection,
        list(job.paths),
        job.state,  # type: ignore[arg-type]
        job.files_done,
        job.files_total,
        dict(job.report or {}),
        job.error,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.attempts or 0,
        bool(job.cancel_requested),
        job.runner_host,
        job.runner_pid,
    )


def _collection_name(session: Session, job: Job) -> str:
    collection = session.get(Collection, job.collection_id)
    return collection.name if collection is not None else "?"


def get_job(session: Session, job_id: str) -> JobInfo:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFoundError(f"no job {job_id!r}: `mnemo jobs list` shows them")
    return job_info(job, _collection_name(session, job))


def list_jobs(session: Session, collection: Collection | None = None) -> list[JobInfo]:
    """Jobs, newest first; of one collection, or of all."""
    query = select(Job).order_by(Job.created_at.desc())
    if collection is not None:
        query = query.where(Job.collection_id == collection.id)
    names = {cid: name for cid, name in session.execute(select(Collection.id, Collection.name))}
    return [job_info(job, names.get(job.collection_id, "?")) for job in session.scalars(query)]


def cancel_job(session: Session, job_id: str) -> JobInfo:
    """Cancel a queued job now, or ask a running one to stop; finished jobs stay as they are."""
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFoundError(f"no job {job_id!r}: `mnemo jobs list` shows them")
    if job.state == "queued":
        job.state, job.finished_at = "cancelled", utcnow()
        job.error = "cancelled before it started"
    elif job.state == "running":
        job.cancel_requested = True
    session.flush()
    return job_info(job, _collection_name(session, job))


def claim_job(session: Session, job_id: str) -> Job | None:
    """The job if it is queued, locked for this transaction; None if it is not
    queued or another worker is claiming it at this moment.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, so two processes never both
    start one job. SQLite has no row locks (the clause is left out); its writers
    are serialised by ``BEGIN IMMEDIATE``, which gives the same guarantee.
    """
    query = select(Job).where(Job.id == job_id, Job.state == "queued")
    return session.scalars(query.with_for_update(skip_locked=True)).first()


def claim_next(session: Session, take: Callable[[str], bool], limit: int = 8) -> Job | None:
    """The oldest queued job that ``take`` accepts (it takes the job's lock), marked
    running; None when there is none. Any process sharing the catalog may call it.

    PostgreSQL: the candidates are read ``FOR UPDATE SKIP LOCKED``, so two
    processes claiming at once never get the same job and never wait on each
    other. SQLite: the write session's ``BEGIN IMMEDIATE`` serialises claimers.
    A candidate whose lock is still held (its runner, stopped and requeued, is
    winding down) is passed over until the next look.
    """
    query = (
        select(Job)
        .where(Job.state == "queued")
        .order_by(Job.created_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    for job in session.scalars(query).all():
        if take(job.id):
            job.state, job.started_at = "running", utcnow()
            job.attempts = (job.attempts or 0) + 1
            job.cancel_requested = False
            job.runner_host, job.runner_pid = socket.gethostname()[:255], os.getpid()
            session.flush()
            return job
    return None


def has_queued(session: Session) -> bool:
    """Whether any job waits (a cheap read before a claim takes the write lock)."""
    return session.scalar(select(Job.id).where(Job.state == "queued").limit(1)) is not None


def running_job_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Job.id).where(Job.state == "running")))


def lock_running(session: Session, job_id: str) -> Job | None:
    """The job, locked for this transaction, if it is still running."""
    query = select(Job).where(Job.id == job_id, Job.state == "running")
    return session.scalars(query.with_for_update()).first()


def job_counts(session: Session) -> dict[str, int]:
    """Jobs by state (all states, zero when none), across every process sharing the catalog."""
    from sqlalchemy import func

    counts = dict.fromkeys(("queued", "running", *FINISHED), 0)
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[state] = count
    return counts

"""Ingestion jobs as the catalog keeps them: read, list and cancel, from any process.

The server runs jobs (:mod:`mnemo.server.jobs`); the CLI, the REST API and MCP
can all list and cancel them here. A queued job is cancelled at once; a running
one is asked to stop, and its runner stops it at the next file (it watches the
``cancel_requested`` flag), keeping what was already indexed.
"""

from __future__ import annotations

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

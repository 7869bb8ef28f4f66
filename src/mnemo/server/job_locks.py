"""Which server process runs a job: a lock held while it runs.

Several `mnemo serve` processes may share one catalog (PostgreSQL, or one
SQLite home). A job marked ``running`` is then either running in another live
process or was left by one that died; the lock tells which. It is a
PostgreSQL advisory lock with a shared catalog, else a file in
``<home>/locks``; both are released by the operating system or the database
when their process dies, so a crashed job is never mistaken for a live one.
"""

from __future__ import annotations

from filelock import FileLock, Timeout

from mnemo.config import Settings
from mnemo.config.private import FILE_MODE, private_dir


def job_lock(settings: Settings, job_id: str) -> FileLock:
    """The lock a process holds while it runs ``job_id`` (FileLock's interface)."""
    if settings.catalog.url is not None:
        from mnemo.catalog.server import AdvisoryLock, lock_engine

        engine = lock_engine(settings.catalog.url.get_secret_value())
        return AdvisoryLock(engine, f"mnemo-job:{job_id}", 0)  # type: ignore[return-value]
    locks = private_dir(settings.home / "locks")
    return FileLock(str(locks / f"job-{job_id}.lock"), timeout=0, mode=FILE_MODE)


def running_elsewhere(settings: Settings, job_id: str) -> bool:
    """True when another live process holds the job's lock (it is running there)."""
    lock = job_lock(settings, job_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False

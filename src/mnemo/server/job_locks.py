"""Which server process runs a job: a lock held while it runs.

Several `mnemo serve` processes may share one catalog (PostgreSQL, or one
SQLite home). A job marked ``running`` is then either running in another live
process or was left by one that died; the lock tells which. It is a
PostgreSQL advisory lock with a shared catalog, else a file in
``<home>/locks``; both are released by the operating system or the database
when their process dies, so a crashed job is never mistaken for a live one.

A job's lock file is removed when the lock is released, and left-over ones
(from a process that died) when a server starts, so ``<home>/locks`` does not
fill up with one file per job ever run. Removing a lock file is safe only
while holding it, and only if every taker checks, once it holds the lock,
that the file it locked is still the one at the path (else a process that
opened the old file before the removal and one that created the new file
would both hold "the" lock): :class:`JobFileLock` does both.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Self

from filelock import FileLock, Timeout

from mnemo.config import Settings
from mnemo.config.private import FILE_MODE, private_dir

_PREFIX, _SUFFIX = "job-", ".lock"
_POLL = 0.05  # seconds between attempts to take a held lock

try:
    import fcntl
except ImportError:  # Windows: FileLock removes its file on release itself
    fcntl = None  # type: ignore[assignment]


class JobFileLock:
    """An exclusive ``flock`` on ``path`` whose file is removed on release (FileLock's
    interface: ``acquire(timeout)``, ``release()``, ``with``; :class:`filelock.Timeout`)."""

    def __init__(self, path: Path, timeout: float = 0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float | None = None) -> Self:
        if self._fd is not None:
            return self
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            fd = self._try_once()
            if fd is not None:
                self._fd = fd
                return self
            if time.monotonic() >= deadline:
                raise Timeout(str(self.path))
            time.sleep(_POLL)

    def _try_once(self) -> int | None:
        """The locked descriptor of the file now at the path, or None when another holds it."""
        for _ in range(100):  # another taker may remove the file between our open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(current, os.fstat(fd)):
                return fd
            os.close(fd)  # we locked a file its holder had removed: look again
        raise Timeout(str(self.path))

    def release(self, force: bool = False) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while holding it: see the module's notes
        finally:
            os.close(fd)  # drops the lock

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def _locks(settings: Settings) -> Path:
    return private_dir(settings.home / "locks")


def job_lock(settings: Settings, job_id: str) -> FileLock:
    """The lock a process holds while it runs ``job_id`` (FileLock's interface)."""
    if settings.catalog.url is not None:
        from mnemo.catalog.server import AdvisoryLock, lock_engine

        engine = lock_engine(settings.catalog.url.get_secret_value())
        return AdvisoryLock(engine, f"mnemo-job:{job_id}", 0)  # type: ignore[return-value]
    path = _locks(settings) / f"{_PREFIX}{job_id}{_SUFFIX}"
    if fcntl is None:
        return FileLock(str(path), timeout=0, mode=FILE_MODE)
    return JobFileLock(path)  # type: ignore[return-value]


def running_elsewhere(settings: Settings, job_id: str) -> bool:
    """True when another live process (or another runner of this one) holds the job's lock."""
    lock = job_lock(settings, job_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def clean_stale_locks(settings: Settings) -> int:
    """Remove the job lock files that no live process holds (left by one that died);
    how many. Nothing to do with a PostgreSQL catalog (its locks are not files)."""
    if settings.catalog.url is not None or fcntl is None:
        return 0
    folder = settings.home / "locks"
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        lock = JobFileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # a live job's
        lock.release()
        removed += 1
    return removed

"""A catalog in PostgreSQL (``catalog.url``), shared by several processes and machines.

The same models and migrations run on it as on SQLite. What SQLite does with a
lock file, PostgreSQL does with advisory locks (:class:`AdvisoryLock`): they
hold across processes and machines, and the server drops them when the
process holding them dies, so a crash never leaves a collection locked.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Self

from filelock import Timeout
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mnemo.errors import CatalogError, ConfigError

_POLL = 0.05  # seconds between attempts to take a held advisory lock


def open_engine(url: str) -> Engine:
    """An engine for a ``postgresql+psycopg://`` URL (``postgresql://`` is taken as psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"catalog.url: not a database URL ({exc}); "
            "give e.g. postgresql+psycopg://user:password@host:5432/mnemo"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"catalog.url: {parsed.get_backend_name()!r} is not supported; give a PostgreSQL "
            "URL, postgresql+psycopg://user:password@host:5432/mnemo (or leave it unset for SQLite)"
        )
    parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "catalog.url names PostgreSQL, which needs psycopg 3: pip install 'mnemo[postgres]'"
        ) from None
    # Sized like the SQLite engine: one catalog serves every request thread of a server.
    return create_engine(parsed, pool_size=8, max_overflow=56, pool_timeout=60, pool_pre_ping=True)


_lock_engines: dict[str, Engine] = {}
_lock_engines_guard = threading.Lock()


def lock_engine(url: str) -> Engine:
    """One engine per URL for advisory locks (each lock holds its own connection)."""
    with _lock_engines_guard:
        if url not in _lock_engines:
            _lock_engines[url] = open_engine(url)
        return _lock_engines[url]


def where(engine: Engine) -> str:
    """The database, for messages (never the password)."""
    return engine.url.render_as_string(hide_password=True)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session advisory lock with FileLock's interface (``acquire``,
    ``release``, ``with``; :class:`filelock.Timeout` when it cannot be had in
    ``timeout`` seconds), so that callers of ``collection_lock`` need not know
    which catalog they run on. Re-entrant within one object, as FileLock is."""

    def __init__(self, engine: Engine, name: str, timeout: float) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self.timeout = timeout
        self._connection: Any = None
        self._depth = 0
        self._guard = threading.Lock()

    @property
    def is_locked(self) -> bool:
        return self._depth > 0

    def acquire(self, timeout: float | None = None) -> Self:
        wait = self.timeout if timeout is None else timeout
        with self._guard:
            if self._depth:
                self._depth += 1
                return self
            deadline = time.monotonic() + max(0.0, wait)
            try:
                connection = self.engine.connect()
                # Its own server session, closed (not pooled) at release: a session
                # lock can never outlive its holder in a pooled connection.
                connection.detach()
                while True:
                    got = connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                    ).scalar()
                    connection.commit()
                    if got:
                        break
                    if wait >= 0 and time.monotonic() >= deadline:
                        connection.close()
                        raise Timeout(self.name)
                    time.sleep(_POLL)
            except SQLAlchemyError as exc:
                raise CatalogError(f"{where(self.engine)}: cannot take lock {self.name} ({exc})")
            self._connection = connection
            self._depth = 1
            return self

    def release(self, force: bool = False) -> None:
        with self._guard:
            if not self._depth:
                return
            self._depth = 0 if force else self._depth - 1
            if self._depth:
                return
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                connection.commit()
            finally:
                connection.close()  # closing the session would drop the lock anyway

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()

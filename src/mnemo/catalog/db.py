"""Opening the catalog: engine, SQLite pragmas, migrations, sessions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mnemo.config.private import FILE_MODE, private_file, secure_home
from mnemo.errors import CatalogError

if TYPE_CHECKING:
    from mnemo.config import Settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
#: How long a statement waits for another process's write lock before failing.
BUSY_TIMEOUT_MS = 30_000
#: Planner statistics wait this long for the write lock, then are left for the next run.
OPTIMIZE_WAIT_MS = 100
#: The newest migration; a test keeps it equal to Alembic's head. Checking it
#: directly keeps Alembic out of every start-up where no migration is due.
SCHEMA_REVISION = "0009"
#: The advisory lock (PostgreSQL) that serialises migrations across processes.
MIGRATE_LOCK = 0x6D6E656D6F  # "mnemo"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN, so that reads run in a real
    # transaction too and see one snapshot (the pysqlite driver would not).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # First, so that the statements below wait for another process too.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(engine: Engine, connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser syntax
    config.attributes["connection"] = connection
    return config


def schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _migrate(engine: Engine) -> None:
    if schema_revision(engine) == SCHEMA_REVISION:
        return
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(engine, connection), "head")


class Catalog:
    """The catalog database of one data directory (SQLite), or a shared PostgreSQL
    database when ``url`` names one (``catalog.url``)."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url
        if url:
            self._open_server(url)
            return
        try:
            # Private to the user: the folder, and the database before SQLite
            # creates it (its -wal and -shm files take the database's mode).
            secure_home(path.parent)
            private_file(path)
        except OSError as exc:
            raise CatalogError(
                f"{path.parent}: cannot create data directory ({exc.strerror})"
            ) from exc
        # One Catalog serves a whole server (every request thread), so the pool is
        # sized for a server's worker threads rather than SQLAlchemy's default 5 + 10.
        self.engine = create_engine(
            f"sqlite:///{path}", pool_size=8, max_overflow=56, pool_timeout=60
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "begin", _sqlite_begin)
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        # Writers take the write lock at BEGIN, so a transaction that reads then
        # writes never fails on a snapshot another process has moved past.
        self._writes = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        try:
            with FileLock(str(path) + ".migrate.lock", timeout=60, mode=FILE_MODE):
                _migrate(self.engine)
        except (SQLAlchemyError, DBAPIError) as exc:
            raise CatalogError(
                f"{path}: cannot open the catalog ({_short(exc)}); "
                "check the file, or move it away to start afresh"
            ) from exc

    def _open_server(self, url: str) -> None:
        """PostgreSQL: several processes and machines share it; migrations run
        under an advisory lock instead of a lock file."""
        from mnemo.catalog.server import open_engine, where

        self.engine = open_engine(url)
        self.path = where(self.engine)  # type: ignore[assignment]  # shown in messages
        # A read session sees one snapshot, as on SQLite (PostgreSQL's default,
        # READ COMMITTED, takes a new one per statement). Writers of a collection
        # are serialised by its advisory lock, not by the transaction.
        self._reads = sessionmaker(
            self.engine.execution_options(isolation_level="REPEATABLE READ"),
            expire_on_commit=False,
        )
        self._writes = sessionmaker(self.engine, expire_on_commit=False)
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK})
                try:
                    _migrate(self.engine)
                finally:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK}
                    )
                    connection.commit()
        except (SQLAlchemyError, DBAPIError) as exc:
            self.engine.dispose()
            raise CatalogError(
                f"{self.path}: cannot open the catalog ({_short(exc)}); check catalog.url, "
                "that the server is running and that the user may create tables"
            ) from exc

    @contextmanager
    def session(self, readonly: bool = False) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error.

        Everything read inside one session comes from one consistent snapshot.
        """
        session = (self._reads if readonly else self._writes)()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise CatalogError(f"{self.path}: catalog error ({_short(exc)})") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def optimize(self) -> bool:
        """Refresh the query planner's statistics; False if skipped.

        ANALYZE writes, so it takes the write lock up front (BEGIN IMMEDIATE: a
        read transaction that turns into a write fails at once, without waiting,
        when another process holds the lock). It waits only briefly: these are
        statistics, and a run into another collection must not fail or stall
        for them; the next run refreshes them.
        """
        if self.engine.dialect.name != "sqlite":
            return False
        raw = self.engine.raw_connection()
        cursor = raw.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={OPTIMIZE_WAIT_MS}")
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("PRAGMA optimize=0x10002")
            cursor.execute("COMMIT")
            return True
        except sqlite3.OperationalError as exc:
            if raw.driver_connection.in_transaction:  # type: ignore[union-attr]
                cursor.execute("ROLLBACK")
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise CatalogError(f"{self.path}: catalog error ({exc})") from exc
            log.debug("planner statistics skipped: another process is writing (%s)", exc)
            return False
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
            raw.close()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_catalog(settings: Settings) -> Catalog:
    """The catalog ``settings`` name: ``catalog.url`` if set, else ``<home>/catalog.db``."""
    url = settings.catalog.url
    return Catalog(settings.catalog_path, url.get_secret_value() if url else None)


def _short(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    return str(original or exc).splitlines()[0]

"""The catalog: migrations, WAL mode, one snapshot per read session; on SQLite and
on PostgreSQL (issue 19: the same models and migrations, unchanged)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from conftest import catalog_backends
from mnemo.catalog import Catalog, Collection
from mnemo.catalog.db import MIGRATIONS, SCHEMA_REVISION, schema_revision
from mnemo.errors import CatalogError

catalog_url = pytest.fixture(params=["sqlite", "postgres"])(catalog_backends)


@pytest.fixture
def open_catalog(tmp_path: Path, catalog_url: str | None) -> Callable[[], Catalog]:
    return lambda: Catalog(tmp_path / "c.db", catalog_url)


def test_schema_revision_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_new_catalog_is_migrated_and_in_wal_mode(open_catalog: Callable[[], Catalog]) -> None:
    with open_catalog() as catalog:
        assert schema_revision(catalog.engine) == SCHEMA_REVISION
        tables = set(inspect(catalog.engine).get_table_names())
        assert {"collections", "sources", "documents", "chunks", "runs", "run_files"} <= tables
        if catalog.engine.dialect.name == "postgresql":
            return
        with catalog.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_reopening_keeps_data(open_catalog: Callable[[], Catalog]) -> None:
    with open_catalog() as catalog, catalog.session() as session:
        session.add(Collection(name="kept"))
    with open_catalog() as catalog, catalog.session(readonly=True) as session:
        assert session.query(Collection.name).scalar() == "kept"


def test_a_failed_transaction_leaves_nothing(open_catalog: Callable[[], Catalog]) -> None:
    with open_catalog() as catalog:
        with pytest.raises(RuntimeError), catalog.session() as session:
            session.add(Collection(name="half"))
            session.flush()
            raise RuntimeError("crash mid-write")
        with catalog.session(readonly=True) as session:
            assert session.query(Collection).count() == 0


def test_unopenable_catalog(tmp_path: Path) -> None:
    bad = tmp_path / "c.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog(bad)


def test_unreachable_postgres_catalog(tmp_path: Path, catalog_url: str | None) -> None:
    if catalog_url is None:
        pytest.skip("PostgreSQL only")
    missing = catalog_url.replace("/t_", "/missing_", 1)
    with pytest.raises(CatalogError, match=r"cannot open the catalog .*check catalog\.url") as info:
        Catalog(tmp_path / "c.db", missing)
    assert "missing_" in str(info.value)


def test_a_non_postgres_url_is_refused(tmp_path: Path) -> None:
    from mnemo.errors import ConfigError

    with pytest.raises(ConfigError, match="give a PostgreSQL URL"):
        Catalog(tmp_path / "c.db", "mysql://u@h/db")


def _names(path: Path) -> list[str]:
    with Catalog(path) as catalog, catalog.session(readonly=True) as session:
        return sorted(session.scalars(text("SELECT name FROM collections")))


def test_a_kept_catalog_sees_other_writers_and_replaced_files(tmp_path: Path) -> None:
    """A process keeps its SQLite engine between Catalogs on the same file (a search
    opens one per call): another process's writes still show at once, a file replaced
    on disk is read afresh, and a closed catalog's rows are in catalog.db itself."""
    one, two = tmp_path / "one" / "catalog.db", tmp_path / "two" / "catalog.db"
    for path, name in ((one, "first"), (two, "second")):
        with Catalog(path) as catalog, catalog.session() as session:
            session.add(Collection(name=name))
    assert _names(one) == ["first"]
    script = (
        "import sys; from mnemo.catalog import Catalog, Collection\n"
        "with Catalog(__import__('pathlib').Path(sys.argv[1])) as c, c.session() as s:\n"
        "    s.add(Collection(name='from-elsewhere'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    subprocess.run([sys.executable, "-c", script, str(one)], check=True, env=env)
    assert _names(one) == ["first", "from-elsewhere"]

    with Catalog(one) as catalog, catalog.session() as session:
        session.add(Collection(name="third"))
    copy = tmp_path / "copy" / "catalog.db"  # the file alone, without its -wal
    copy.parent.mkdir()
    shutil.copyfile(one, copy)
    assert _names(copy) == ["first", "from-elsewhere", "third"]

    for suffix in ("", "-wal", "-shm"):  # another catalog moved into its place
        if Path(f"{two}{suffix}").exists():
            os.replace(f"{two}{suffix}", f"{one}{suffix}")
    assert _names(one) == ["second"]


def test_a_catalog_of_the_previous_schema_keeps_its_jobs_and_gains_their_runner(
    open_catalog: Callable[[], Catalog],
) -> None:
    """Migration 0009 on a catalog made before it: its jobs stay and list, with no runner."""
    from alembic import command

    from mnemo.catalog.db import alembic_config
    from mnemo.catalog.jobs import list_jobs
    from mnemo.catalog.models import Job

    with open_catalog() as catalog, catalog.engine.begin() as connection:
        command.downgrade(alembic_config(catalog.engine, connection), "0008")
        assert "runner_pid" not in {c["name"] for c in inspect(connection).get_columns("jobs")}
        coll = connection.execute(
            text("INSERT INTO collections (name, created_at) VALUES ('old', :t) RETURNING id"),
            {"t": "2026-12-01 10:00:00"},
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO jobs (id, collection_id, paths, state, files_done, files_total,"
                " report, created_at, attempts, cancel_requested)"
                " VALUES ('j1', :c, '[]', 'done', 1, 1, '{}', :t, 1, :f)"
            ),
            {"c": coll, "t": "2026-12-01 10:00:00", "f": False},
        )
    with open_catalog() as catalog:
        assert schema_revision(catalog.engine) == SCHEMA_REVISION == "0009"
        with catalog.session() as session:
            (job,) = list_jobs(session)
            assert (job.id, job.collection, job.runner_pid, job.runner) == ("j1", "old", None, "")
            session.get(Job, "j1").runner_pid = 4242
        with catalog.session(readonly=True) as session:
            assert list_jobs(session)[0].runner_pid == 4242

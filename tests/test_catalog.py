"""The catalog: migrations, WAL mode, one snapshot per read session."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from mnemo.catalog import Catalog, Collection
from mnemo.catalog.db import MIGRATIONS, SCHEMA_REVISION, schema_revision
from mnemo.errors import CatalogError


def test_schema_revision_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_new_catalog_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as catalog:
        assert schema_revision(catalog.engine) == SCHEMA_REVISION
        tables = set(inspect(catalog.engine).get_table_names())
        assert {"collections", "sources", "documents", "chunks", "runs", "run_files"} <= tables
        with catalog.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_reopening_keeps_data(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as catalog, catalog.session() as session:
        session.add(Collection(name="kept"))
    with Catalog(tmp_path / "c.db") as catalog, catalog.session(readonly=True) as session:
        assert session.query(Collection.name).scalar() == "kept"


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as catalog:
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

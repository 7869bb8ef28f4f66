"""The index stays honest (issue 10): concurrent writers, reused vectors, a
missing or corrupt index, private storage. Real SQLite, real LanceDB, the real
packaged embedder (or the local embedding server where speed matters)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from embedserver import serve

from mnemo import api
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.errors import IndexDamagedError
from mnemo.index.lance import TEXT, VECTOR_PREFIX, LanceStore

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def settings(dense_settings: Settings) -> Settings:
    """Dense retrieval is the subject here: the packaged embedder, not conftest's none."""
    return dense_settings


def write_notes(root: Path, prefix: str, count: int, start: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    topics = ["glaciers carve valleys", "bees pollinate clover", "volcanoes erupt lava"]
    for n in range(start, start + count):
        body = "\n\n".join(
            f"## Part {j}\n\n{prefix} note {n} part {j}: {topics[(n + j) % 3]} "
            + " ".join(f"w{(n * 7 + j * 3 + k) % 89}" for k in range(60))
            for j in range(4)
        )
        (root / f"{prefix}-{n:03}.md").write_text(f"# {prefix} {n}\n\n{body}\n")
    return root


def vector_dir(settings: Settings, collection: str = "default") -> Path:
    (table,) = [
        d for d in (settings.index_path / collection).iterdir() if d.name.startswith(VECTOR_PREFIX)
    ]
    return table


# -- 1. two writers, different collections --------------------------------------------


@pytest.mark.slow  # three rounds of two real processes
def test_adds_into_different_collections_run_at_the_same_time(tmp_path: Path) -> None:
    """Each round, a fresh home: two `mnemo add` processes into two of its collections at once."""
    with serve() as (url, _):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        env.update(
            MNEMO_INGEST__WORKERS="1",
            MNEMO_EMBEDDING__BACKEND="openai-compatible",
            MNEMO_EMBEDDING__MODEL="nomic-embed",
            MNEMO_EMBEDDING__BASE_URL=url,
        )
        # Each collection has files of its own and files both share (same content, so
        # the two processes embed the same texts at the same time).
        shared = write_notes(tmp_path / "shared", "shared", 15)
        folders = {name: write_notes(tmp_path / name, name, 15) for name in ("alpha", "beta")}
        for round_ in range(3):
            home = tmp_path / f"home-{round_}"
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "mnemo", "add", str(folder), str(shared)]
                    + ["-c", name],
                    env={**env, "MNEMO_HOME": str(home)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for name, folder in folders.items()
            ]
            for proc in procs:
                out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, f"round {round_}:\n{out}\n{err}"
            counts = {s.name: s.documents["indexed"] for s in api.status(load_settings(home))}
            assert counts == {"alpha": 30, "beta": 30}


def test_index_upkeep_skips_planner_statistics_while_another_process_writes(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """The deterministic core of the race above: statistics are due (a fresh home has
    none) while another collection's run holds the catalog's write lock."""
    import sqlite3

    from sqlalchemy import select

    from mnemo.catalog import Collection
    from mnemo.index.updater import IndexUpdater

    settings = make_settings(embedding={"backend": "none"})
    api.add([write_notes(tmp_path / "notes", "n", 30)], settings)
    other = sqlite3.connect(settings.catalog_path, isolation_level=None)
    other.execute("DROP TABLE sqlite_stat1")
    with Catalog(settings.catalog_path) as catalog:
        with catalog.session(readonly=True) as session:
            coll = session.scalar(select(Collection))
        updater = IndexUpdater(settings, catalog, coll)
        updater.heal()
        updater.flush()
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            started = time.perf_counter()
            updater.finish()  # skipped, neither failed nor waited out the busy timeout
            assert time.perf_counter() - started < 5
        finally:
            other.execute("ROLLBACK")
        updater.finish()
    stats = other.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    assert stats.fetchone() == (1,)  # done once the lock was free
    other.close()


# -- 2. a second collection over files already embedded --------------------------------


def test_second_collection_over_embedded_files_gets_its_vectors_in_the_same_run(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", "n", 6)
    (notes / "extra.txt").write_text("A plain text note about glaciers carving valleys.\n")
    api.add([notes], settings)
    report = api.add([notes], settings, collection="papers", include=["*.md"])
    assert report.embedding.embedded == 0  # every vector is reused
    found = api.search("glaciers carving valleys", settings, collection="papers", mode="dense")
    assert found.used == ["dense"] and found.hits and not found.warnings
    (status,) = api.status(settings, collection="papers")
    (embedding,) = status.embeddings
    assert embedding.embedded == status.chunks == embedding.indexed  # what the index holds
    assert status.index is not None and status.index.problems == []


def test_status_counts_what_the_index_holds(tmp_path: Path, settings: Settings) -> None:
    api.add([write_notes(tmp_path / "notes", "n", 4)], settings)
    (before,) = api.status(settings)
    LanceStore(settings.index_path / "default").drop_table(vector_dir(settings).name[:-6])
    (after,) = api.status(settings)
    assert before.embeddings[0].indexed == before.chunks
    assert after.embeddings[0].embedded == after.chunks and after.embeddings[0].indexed == 0
    assert any("vectors" in p and "0 of" in p for p in after.index.problems)


# -- 3. a missing index ---------------------------------------------------------------


def test_missing_index_is_reported_and_healed(tmp_path: Path, settings: Settings, cli: Cli) -> None:
    api.add([write_notes(tmp_path / "notes", "n", 4)], settings)
    assert api.search("glaciers", settings).hits
    shutil.rmtree(settings.index_path / "default")

    (status,) = api.status(settings)
    assert status.index.missing and "missing" in status.index.problems[0]
    shown = json.loads(cli("status", "--json", check=True).stdout)
    assert "missing" in shown[0]["index"]["problems"][0]
    assert "missing" in cli("status", check=True).stdout

    # The first search finds nothing to search, rebuilds from the catalog, and says so.
    found = api.search("glaciers", settings)
    assert found.hits and found.used == ["bm25", "dense"]
    assert any("rebuilt" in w for w in found.warnings)
    assert api.status(settings)[0].index.problems == []
    assert not api.search("glaciers", settings).warnings


def test_sync_heals_an_emptied_index_table(tmp_path: Path, settings: Settings) -> None:
    api.add([write_notes(tmp_path / "notes", "n", 4)], settings)
    store = LanceStore(settings.index_path / "default")
    store.delete_ids(TEXT, sorted(store.ids(TEXT))[:3])  # half the keyword rows are gone
    found = api.search("glaciers", settings, mode="bm25")
    assert any("holds" in w and "mnemo sync" in w for w in found.warnings)
    report = api.sync(settings)
    assert report.index_repairs
    assert api.status(settings)[0].index.problems == []
    assert not api.search("glaciers", settings, mode="bm25").warnings


def test_health_check_does_not_slow_searches(tmp_path: Path, settings: Settings) -> None:
    """The consistency check is cached per index version: a warm search pays
    two version lookups, not the catalog counts."""
    from mnemo.index import health

    api.add([write_notes(tmp_path / "notes", "n", 4)], settings)
    api.search("glaciers", settings)
    before = health.CACHE_MISSES
    for _ in range(5):
        api.search("glaciers", settings)
    assert health.CACHE_MISSES == before


# -- 4. a corrupt vector table ---------------------------------------------------------


def corrupt(table: Path) -> None:
    for data in (table / "data").iterdir():
        data.write_bytes(data.read_bytes()[:20])


def test_corrupt_vectors_fall_back_to_keyword_search(
    tmp_path: Path, settings: Settings, cli: Cli
) -> None:
    api.add([write_notes(tmp_path / "notes", "n", 4)], settings)
    corrupt(vector_dir(settings))
    for mode in ("hybrid", "dense"):
        found = api.search("glaciers", settings, mode=mode)
        assert found.hits and found.used == ["bm25"], mode
        (warning,) = [w for w in found.warnings if w.startswith("dense search failed")]
        assert "showing keyword results" in warning and "mnemo reindex" in warning
    proc = cli("search", "glaciers", "--json", check=True)
    shown = json.loads(proc.stdout)
    assert shown["hits"] and any("dense search failed" in w for w in shown["warnings"])

    corrupt(settings.index_path / "default" / f"{TEXT}.lance")
    with pytest.raises(IndexDamagedError, match="mnemo reindex"):
        api.search("glaciers", settings)
    # A sync finds the damage and rebuilds from the catalog.
    assert api.sync(settings).index_repairs
    assert api.search("glaciers", settings).used == ["bm25", "dense"]


def test_rest_and_readyz_report_a_damaged_index(tmp_path: Path) -> None:
    from serverutil import build_library, serving

    from mnemo.server.auth import create_key

    settings = build_library(tmp_path)
    with Catalog(settings.catalog_path) as catalog:
        key = create_key(catalog, "read", "reader")[1]
    headers = {"Authorization": f"Bearer {key}"}
    with serving(settings) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        assert client.get("/readyz").json() == {"status": "ready", "warnings": []}
        corrupt(vector_dir(settings))
        response = client.post("/collections/default/search", json={"query": "Falcon launch date"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["hits"] and any("dense search failed" in w for w in body["warnings"])

        shutil.rmtree(settings.index_path / "default")
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "missing" in ready.json()["error"]["message"]


# -- 5. private storage ---------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_and_catalog_are_private_whatever_the_umask(tmp_path: Path, settings: Settings) -> None:
    old = os.umask(0)
    try:
        api.add([write_notes(tmp_path / "notes", "n", 2)], settings)
        home = settings.home
        assert mode_of(home) == 0o700
        for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm", "catalog.db.migrate.lock"):
            if (home / name).exists():
                assert mode_of(home / name) == 0o600, name
        assert mode_of(home / "locks") == 0o700
        assert mode_of(home / "locks" / "default.lock") == 0o600
        assert mode_of(settings.index_path) == 0o700
    finally:
        os.umask(old)


def test_an_existing_open_home_is_tightened(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    api.add([write_notes(tmp_path / "notes", "n", 2)], settings)
    home = settings.home
    os.chmod(home, 0o755)
    os.chmod(home / "catalog.db", 0o644)
    os.chmod(settings.index_path, 0o755)
    (home / "uploads").mkdir(mode=0o755)
    with caplog.at_level("INFO", logger="mnemo"):
        api.status(settings)
    assert mode_of(home) == 0o700 and mode_of(home / "catalog.db") == 0o600
    assert mode_of(settings.index_path) == 0o700 and mode_of(home / "uploads") == 0o700
    notes = [r for r in caplog.records if "owner-only" in r.getMessage()]
    assert len(notes) == 1
    caplog.clear()
    with caplog.at_level("INFO", logger="mnemo"):
        api.status(settings)
    assert not [r for r in caplog.records if "owner-only" in r.getMessage()]

"""Several Mnemo processes on one PostgreSQL catalog (issue 19): writers of one
collection take turns (an advisory lock), lose nothing and duplicate nothing;
two `mnemo serve` processes serve the same collections and run each job once.
Real processes, a real PostgreSQL cluster, a LanceDB index both processes see."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from mnemo import api
from mnemo.catalog import Chunk, Collection, Document, Run
from mnemo.catalog.db import open_catalog
from mnemo.catalog.models import Job
from mnemo.config import Settings, load_settings
from mnemo.index import open_store
from mnemo.index.base import TEXT
from pgcluster import new_database
from serverutil import serve_process


@pytest.fixture
def shared(tmp_path: Path, pg_server: str) -> Settings:
    return load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "catalog": {"url": new_database(pg_server)},
            "server": {"allowed_roots": [str(tmp_path / "allowed")]},
        },
    )


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    assert settings.catalog.url is not None
    env |= {
        "MNEMO_HOME": str(settings.home),
        "MNEMO_INGEST__WORKERS": "1",
        "MNEMO_EMBEDDING__BACKEND": "none",
        "MNEMO_CATALOG__URL": settings.catalog.url.get_secret_value(),
        "MNEMO_SERVER__ALLOWED_ROOTS": f'["{settings.server.allowed_roots[0]}"]',
    }
    return env


def _notes(folder: Path, prefix: str, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"{prefix}{n:03}.md").write_text(
            f"# {prefix} {n}\n\nNote {prefix}{n} mentions marker{prefix}{n} and topic {n % 7}.\n"
        )
    return folder


def _add_until_done(settings: Settings, *folders: Path) -> subprocess.Popen[str]:
    """`mnemo add` in its own process; a run refused as busy is tried again, as a user would."""
    script = (
        "import subprocess, sys, time\n"
        "for _ in range(40):\n"
        f"    p = subprocess.run([sys.executable, '-m', 'mnemo', 'add', *{[str(f) for f in folders]!r}],"
        " capture_output=True, text=True)\n"
        "    if p.returncode == 0: sys.exit(0)\n"
        "    if 'another Mnemo process' not in p.stderr:\n"
        "        print(p.stdout, p.stderr); sys.exit(p.returncode)\n"
        "    time.sleep(0.2)\n"
        "sys.exit(99)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], env=_env(settings), stdout=subprocess.PIPE, text=True
    )


@pytest.mark.slow  # four real processes
def test_two_processes_adding_into_one_collection_lose_and_duplicate_nothing(
    tmp_path: Path, shared: Settings
) -> None:
    first = _notes(tmp_path / "first", "a", 40)
    second = _notes(tmp_path / "second", "b", 40)
    both = _notes(tmp_path / "both", "c", 20)  # both processes add this one
    runs = [_add_until_done(shared, first, both), _add_until_done(shared, second, both)]
    for proc in runs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out

    with open_catalog(shared) as catalog, catalog.session(readonly=True) as session:
        (coll,) = session.scalars(select(Collection)).all()  # created once, by one of them
        paths = list(session.scalars(select(Document.path).where(Document.status == "indexed")))
        chunk_ids = list(session.scalars(select(Chunk.id)))
        finished = session.scalar(
            select(func.count()).select_from(Run).where(Run.status == "completed")
        )
    assert sorted(Path(p).name for p in paths) == sorted(
        [f"a{n:03}.md" for n in range(40)]
        + [f"b{n:03}.md" for n in range(40)]
        + [f"c{n:03}.md" for n in range(20)]
    )
    assert len(chunk_ids) == len(set(chunk_ids)) == 100
    assert finished >= 2
    store = open_store(shared, coll.name)
    assert store.ids(TEXT) == set(chunk_ids) and store.count(TEXT) == 100
    for marker in ("markera7", "markerb33", "markerc19"):
        assert len(api.search(marker, shared, mode="bm25").hits) == 1


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    with serve_process(_env(settings), timeout=90) as (_, url):
        yield url


def _wait_done(client: httpx.Client, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.slow  # two real servers
def test_two_servers_share_collections_and_run_each_job_once(
    tmp_path: Path, shared: Settings
) -> None:
    allowed = tmp_path / "allowed"
    _notes(allowed / "early", "e", 30)
    _notes(allowed / "late", "l", 5)
    api.create_collection("team", shared)
    # A job queued before either server starts: both see it, one runs it.
    with open_catalog(shared) as catalog, catalog.session() as session:
        coll = session.scalars(select(Collection).where(Collection.name == "team")).one()
        session.add(
            Job(
                id="queued-early",
                collection_id=coll.id,
                paths=[str(allowed / "early")],
                state="queued",
            )
        )
    with (
        _serve(shared) as one,
        _serve(shared) as two,
        httpx.Client(base_url=one, timeout=60) as a,
        httpx.Client(base_url=two, timeout=60) as b,
    ):
        job = _wait_done(a, "queued-early")
        assert job["state"] == "done" and job["attempts"] == 1, job
        assert b.get("/jobs/queued-early").json()["state"] == "done"
        # What one server indexes, the other finds.
        submitted = a.post("/collections/team/sources", json={"path": str(allowed / "late")})
        assert submitted.status_code == 202, submitted.text
        assert _wait_done(b, submitted.json()["id"])["state"] == "done"
        found = b.post("/collections/team/search", json={"query": "markerl3", "mode": "bm25"})
        assert found.status_code == 200, found.text
        assert [h["path"].rsplit("/", 1)[1] for h in found.json()["hits"]] == ["l003.md"]
    with open_catalog(shared) as catalog, catalog.session(readonly=True) as session:
        adds = session.scalar(select(func.count()).select_from(Run).where(Run.command == "add"))
        docs = session.scalar(select(func.count()).select_from(Document))
    assert adds == 2 and docs == 35  # each job ran once

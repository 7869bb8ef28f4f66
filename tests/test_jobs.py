"""Ingestion jobs: cancelled from REST, the CLI and MCP; a job that keeps taking the
server down is not started forever; a resumed job reports honest progress. On
SQLite and on PostgreSQL (issue 19), where two server processes share the jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import catalog_backends
from mnemo import api
from mnemo.catalog import Collection
from mnemo.catalog.db import open_catalog
from mnemo.catalog.models import Job, Source
from mnemo.config import Settings, load_settings
from mnemo.errors import BusyError
from mnemo.ingest.sync import collection_lock
from mnemo.library import Library
from mnemo.server.mcp_server import _Tools
from serverutil import serve_process, serving

catalog_url = pytest.fixture(params=["sqlite", "postgres"])(catalog_backends)
_CATALOG: dict[str, str | None] = {"url": None}


@pytest.fixture(autouse=True)
def _catalog_for_helpers(catalog_url: str | None) -> Iterator[None]:
    """The module's helpers build settings themselves: they read the parameter here."""
    _CATALOG["url"] = catalog_url
    yield
    _CATALOG["url"] = None

FINISHED = ("done", "failed", "cancelled")


def _notes(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"note{n:04}.md").write_text(f"# Note {n}\n\nNote {n} is about topic {n * 7}.\n")
    return folder


def _settings(root: Path, **server: Any) -> Settings:
    return load_settings(
        root / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"allowed_roots": [str(root / "allowed")], **server},
            **({"catalog": {"url": _CATALOG["url"]}} if _CATALOG["url"] else {}),
        },
    )


def _queued_job(settings: Settings, job_id: str, paths: list[str], state: str = "queued") -> None:
    api.create_collection("jobs", settings)
    with open_catalog(settings) as catalog, catalog.session() as session:
        coll = session.query(Collection).filter_by(name="jobs").one()
        session.add(Job(id=job_id, collection_id=coll.id, paths=paths, state=state))


def _job(settings: Settings, job_id: str) -> Job:
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _wait(client: httpx.Client, job_id: str, states: tuple[str, ...] = FINISHED) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def test_cli_lists_and_cancels_a_queued_job_which_then_never_runs(
    tmp_path: Path, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    folder = _notes(tmp_path / "allowed" / "notes", 3)
    settings = _settings(tmp_path)
    _queued_job(settings, "waiting", [str(folder)])
    env = {"MNEMO_HOME": str(settings.home)}
    listed = cli("jobs", "list", env=env)
    assert listed.returncode == 0 and "waiting" in listed.stdout and "queued" in listed.stdout
    cancelled = cli("jobs", "cancel", "waiting", env=env)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    assert _job(settings, "waiting").state == "cancelled"
    missing = cli("jobs", "cancel", "nope", env=env)
    assert missing.returncode == 2 and "no job 'nope'" in missing.stderr
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        time.sleep(0.5)
        assert client.get("/jobs/waiting").json()["state"] == "cancelled"
    assert api.documents(settings, collection="jobs") == []


def test_rest_cancels_a_running_job_and_keeps_what_it_indexed(tmp_path: Path) -> None:
    folder = _notes(tmp_path / "allowed" / "many", 1500)
    settings = _settings(tmp_path)
    api.create_collection("many", settings)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        job_id = client.post("/collections/many/sources", json={"path": str(folder)}).json()["id"]
        _wait(client, job_id, ("running", *FINISHED))
        response = client.delete(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert response.json()["cancel_requested"] or response.json()["state"] == "done"
        job = _wait(client, job_id)
        assert job["state"] == "cancelled", job
        assert "cancelled" in job["error"]
        assert job["files_done"] < 1500
        kept = client.get("/collections/many/documents").json()
        assert len(kept) >= job["files_done"] - 1  # the files it finished stay indexed
        again = client.delete(f"/jobs/{job_id}")  # a finished job stays as it is
        assert again.status_code == 200 and again.json()["state"] == "cancelled"
        assert client.delete("/jobs/nope").status_code == 404


def test_mcp_lists_and_cancels_jobs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "allowed").mkdir()
    _queued_job(settings, "agent-job", [str(tmp_path / "allowed")])
    tools = _Tools(Library(settings))
    assert [j.id for j in tools.list_jobs().jobs] == ["agent-job"]
    assert tools.cancel_job("agent-job").state == "cancelled"
    assert tools.list_jobs(collection="jobs").jobs[0].state == "cancelled"


@contextmanager
def _serve_process(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`mnemo serve` as its own process, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env |= {
        "MNEMO_HOME": str(settings.home),
        "MNEMO_INGEST__WORKERS": "1",
        "MNEMO_EMBEDDING__BACKEND": "none",
        "MNEMO_SERVER__ALLOWED_ROOTS": f'["{settings.server.allowed_roots[0]}"]',
    }
    if settings.catalog.url is not None:
        env["MNEMO_CATALOG__URL"] = settings.catalog.url.get_secret_value()
    with serve_process(env, timeout=60) as (proc, url):
        yield proc, url


@pytest.mark.slow
def test_a_job_that_keeps_killing_the_server_is_failed_not_retried_forever(
    tmp_path: Path,
) -> None:
    folder = _notes(tmp_path / "allowed" / "many", 3000)
    settings = _settings(tmp_path)
    api.create_collection("many", settings)
    job_id = None
    for attempt in (1, 2):
        with _serve_process(settings) as (proc, url), httpx.Client(base_url=url) as client:
            if job_id is None:
                job_id = client.post(
                    "/collections/many/sources", json={"path": str(folder)}
                ).json()["id"]
            job = _wait(client, job_id, ("running", *FINISHED))
            assert job["state"] == "running", job
            assert job["attempts"] == attempt
            proc.send_signal(signal.SIGKILL)  # what a hostile file did to the server
            proc.wait(30)
    assert job_id is not None
    with _serve_process(settings) as (proc, url), httpx.Client(base_url=url) as client:
        job = client.get(f"/jobs/{job_id}").json()
        assert job["state"] == "failed", job
        assert "server.max_job_attempts" in job["error"]
        assert client.get("/healthz").status_code == 200
        time.sleep(1)
        assert client.get(f"/jobs/{job_id}").json()["state"] == "failed"  # not started again


def test_a_resumed_job_counts_the_files_it_did_before(tmp_path: Path) -> None:
    folder = _notes(tmp_path / "allowed" / "few", 5)
    settings = _settings(tmp_path)
    api.add([folder], settings, collection="jobs")  # all five were indexed before a crash
    with open_catalog(settings) as catalog, catalog.session() as session:
        coll = session.query(Collection).filter_by(name="jobs").one()
        session.add(
            Job(
                id="crashed",
                collection_id=coll.id,
                paths=[str(folder)],
                state="running",
                files_done=5,
                files_total=5,
                attempts=1,
            )
        )
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        job = _wait(client, "crashed")
        assert job["state"] == "done", job
        assert (job["files_done"], job["files_total"]) == (5, 5)
        assert job["report"]["counts"]["unchanged"] == 5
        assert job["attempts"] == 2


def test_an_add_refused_as_busy_leaves_no_source_behind(tmp_path: Path) -> None:
    folder = _notes(tmp_path / "notes", 2)
    settings = _settings(tmp_path)
    api.create_collection("busy", settings)
    with collection_lock(settings, "busy", 1):  # another process is updating it
        with pytest.raises(BusyError):
            api.add([folder], settings, collection="busy")
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        assert session.query(Source).count() == 0

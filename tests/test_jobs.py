"""Ingestion jobs: cancelled from REST, the CLI and MCP; a job that keeps taking the
server down is not started forever; a resumed job reports honest progress. On
SQLite and on PostgreSQL (issue 19), where two server processes share the jobs."""

from __future__ import annotations

import json
import os
import signal
import socket
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
from mnemo.catalog.models import Document, Job, Source
from mnemo.config import Settings, load_settings
from mnemo.errors import BusyError
from mnemo.ingest.sync import collection_lock
from mnemo.library import Library
from mnemo.server.job_locks import JobFileLock
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


def _wait(
    client: httpx.Client, job_id: str, states: tuple[str, ...] = FINISHED, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
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
    assert tools.list_jobs().jobs[0].runner == ""  # no worker has claimed it
    assert tools.cancel_job("agent-job").state == "cancelled"
    assert tools.list_jobs(collection="jobs").jobs[0].state == "cancelled"


def test_mcp_says_which_process_runs_a_job(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _queued_job(settings, "claimed", [str(tmp_path)], state="running")
    with open_catalog(settings) as catalog, catalog.session() as session:
        job = session.get(Job, "claimed")
        assert job is not None
        job.runner_host, job.runner_pid, job.attempts = "worker-2", 4242, 1
    (entry,) = _Tools(Library(settings)).list_jobs().jobs
    assert (entry.runner, entry.attempts) == ("worker-2:4242", 1)


@contextmanager
def _serve_process(
    settings: Settings, timeout: float = 60, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`mnemo serve` as its own process, as a user runs it (``extra``: more MNEMO_ variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env |= extra
    env |= {
        "MNEMO_HOME": str(settings.home),
        "MNEMO_INGEST__WORKERS": "1",
        "MNEMO_EMBEDDING__BACKEND": "none",
        "MNEMO_SERVER__ALLOWED_ROOTS": f'["{settings.server.allowed_roots[0]}"]',
    }
    if settings.catalog.url is not None:
        env["MNEMO_CATALOG__URL"] = settings.catalog.url.get_secret_value()
    with serve_process(env, timeout=timeout) as (proc, url):
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


# -- one queue for every server process sharing the catalog ----------------------------

_QUICK = {"MNEMO_SERVER__JOB_POLL_INTERVAL": "0.2", "MNEMO_SERVER__SHUTDOWN_TIMEOUT": "2"}


def _documents(settings: Settings, collection: str) -> list[str]:
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        coll = session.query(Collection).filter_by(name=collection).one()
        return [d.path for d in session.query(Document).filter_by(collection_id=coll.id)]


@pytest.mark.slow  # two real servers
def test_a_job_submitted_to_a_busy_server_runs_on_the_other_and_cancels_from_either(
    tmp_path: Path,
) -> None:
    big = _notes(tmp_path / "allowed" / "big", 1500)
    small = _notes(tmp_path / "allowed" / "small", 5)
    settings = _settings(tmp_path)
    api.create_collection("big", settings)
    api.create_collection("small", settings)
    with _serve_process(settings, 300, **_QUICK) as (_, one), httpx.Client(base_url=one) as a:
        slow = a.post("/collections/big/sources", json={"path": str(big)}).json()["id"]
        assert _wait(a, slow, ("running", *FINISHED))["state"] == "running"
        # A's only worker is busy; B starts and takes what A is given next.
        with _serve_process(settings, 300, **_QUICK) as (_, two), httpx.Client(base_url=two) as b:
            quick = a.post("/collections/small/sources", json={"path": str(small)})
            assert quick.status_code == 202, quick.text
            done = _wait(b, quick.json()["id"])
            assert done["state"] == "done" and done["report"]["counts"]["indexed"] == 5, done
            assert b.get(f"/jobs/{slow}").json()["state"] == "running"  # still busy on A
            assert len(_documents(settings, "small")) == 5
            # The same list from both; a job running on A is cancelled from B.
            for name in ("big", "small"):
                from_a = [j["id"] for j in a.get(f"/collections/{name}/jobs").json()]
                assert from_a == [j["id"] for j in b.get(f"/collections/{name}/jobs").json()]
            assert b.delete(f"/jobs/{slow}").json()["cancel_requested"]
            cancelled = _wait(a, slow)
            assert cancelled["state"] == "cancelled", cancelled
            assert cancelled["files_done"] < 1500


def test_a_job_names_the_server_process_that_ran_it(
    tmp_path: Path, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    folder = _notes(tmp_path / "allowed" / "few", 3)
    settings = _settings(tmp_path)
    api.create_collection("few", settings)
    _queued_job(settings, "before-any-server", [str(folder)], state="cancelled")
    with _serve_process(settings, 120, **_QUICK) as (proc, url), httpx.Client(base_url=url) as c:
        job_id = c.post("/collections/few/sources", json={"path": str(folder)}).json()["id"]
        job = _wait(c, job_id)
        assert job["state"] == "done", job
        assert (job["runner_host"], job["runner_pid"]) == (socket.gethostname(), proc.pid)
        never = c.get("/jobs/before-any-server").json()
        assert (never["runner_host"], never["runner_pid"]) == (None, None)
    env = {"MNEMO_HOME": str(settings.home)}
    listed = cli("jobs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    runners = {j["id"]: (j["runner_host"], j["runner_pid"]) for j in json.loads(listed.stdout)}
    assert runners == {job_id: (socket.gethostname(), proc.pid), "before-any-server": (None, None)}
    table = cli("jobs", "list", env={**env, "COLUMNS": "250"})
    assert f"{socket.gethostname()}:{proc.pid}" in table.stdout, table.stdout


@pytest.mark.slow  # two real servers, one killed
def test_a_job_whose_server_is_killed_is_taken_over_by_the_other(tmp_path: Path) -> None:
    folder = _notes(tmp_path / "allowed" / "many", 3000)
    settings = _settings(tmp_path)
    api.create_collection("many", settings)
    with _serve_process(settings, 300, **_QUICK) as (proc, one), httpx.Client(base_url=one) as a:
        job_id = a.post("/collections/many/sources", json={"path": str(folder)}).json()["id"]
        assert _wait(a, job_id, ("running", *FINISHED))["state"] == "running"
        with _serve_process(settings, 300, **_QUICK) as (_, two), httpx.Client(base_url=two) as b:
            time.sleep(1)  # B looks several times: A is alive, so B leaves the job alone
            job = b.get(f"/jobs/{job_id}").json()
            assert job["state"] == "running" and job["attempts"] == 1, job
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            job = _wait(b, job_id, timeout=900)  # B indexes the rest (slow on a busy machine)
            assert job["state"] == "done" and job["attempts"] == 2, job
            assert job["report"]["counts"]["indexed"] + job["report"]["counts"]["unchanged"] == 3000
    paths = _documents(settings, "many")
    assert len(paths) == len(set(paths)) == 3000  # nothing lost, nothing twice


def test_job_lock_files_are_removed_when_jobs_end_and_stale_ones_at_start(
    tmp_path: Path, catalog_url: str | None
) -> None:
    if catalog_url is not None:
        pytest.skip("PostgreSQL catalogs lock jobs with advisory locks: no files")
    settings = _settings(tmp_path)
    api.create_collection("jobs", settings)
    locks = settings.home / "locks"
    locks.mkdir(mode=0o700, exist_ok=True)
    (locks / "job-left-by-a-dead-server.lock").write_text("")
    live = JobFileLock(locks / "job-running-elsewhere.lock").acquire()  # another live process's
    folders = [_notes(tmp_path / "allowed" / f"batch{n}", 2) for n in range(6)]
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        ids = [
            client.post("/collections/jobs/sources", json={"path": str(f)}).json()["id"]
            for f in folders
        ]
        for job_id in ids:
            assert _wait(client, job_id)["state"] == "done"
        # The default collection lock stays (one per collection); no job's lock file is left.
        assert sorted(p.name for p in locks.glob("job-*")) == ["job-running-elsewhere.lock"]
    assert live.is_locked and (locks / "job-running-elsewhere.lock").exists()
    live.release()
    assert not list(locks.glob("job-*"))


def test_status_says_where_collections_live_and_counts_every_process_jobs(
    tmp_path: Path, catalog_url: str | None, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    settings = _settings(tmp_path)
    api.create_collection("jobs", settings)
    with open_catalog(settings) as catalog, catalog.session() as session:
        coll = session.query(Collection).filter_by(name="jobs").one()
        for job_id, state in (("one", "queued"), ("two", "queued"), ("three", "running")):
            session.add(Job(id=job_id, collection_id=coll.id, paths=[], state=state))
    shown = cli("status", env={"MNEMO_HOME": str(settings.home)}, check=True).stdout
    assert "ingestion jobs (every server process): 2 queued, 1 running" in shown
    if catalog_url is None:
        assert f"catalog: sqlite {settings.home / 'catalog.db'}" in shown
    else:
        assert "catalog: postgresql postgresql+psycopg://postgres@" in shown
    assert f"index: lancedb {settings.home / 'index'}" in shown


def test_rest_deployment_names_the_index_server_without_its_password(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(deep=True)
    settings.index.backend = "milvus"
    settings.index.milvus_uri = "http://mnemo:hunter2@milvus.internal:19530"
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        response = client.get("/deployment")
        assert response.status_code == 200, response.text
        shown = response.json()
    assert "hunter2" not in response.text
    assert shown["index_backend"] == "milvus"
    assert shown["index"] == "http://mnemo:***@milvus.internal:19530"
    assert shown["catalog_backend"] == ("postgresql" if _CATALOG["url"] else "sqlite")
    assert (shown["jobs_queued"], shown["jobs_running"]) == (0, 0)

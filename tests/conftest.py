"""Shared fixtures: every test gets its own data directory; nothing touches ~.

Fixtures for speed (issue 11): ``cli`` runs the `mnemo` command in this process
(``cli_process`` runs the real one, for exit codes, signals and terminals);
``settings`` and ``make_settings`` turn the embedder off (``embedding.backend =
none``), since most tests are not about dense search; ``indexed_library`` is one
small collection indexed once per session with the real packaged embedder, for
tests that only read it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import mnemo
from library import LIBRARY_DOCS
from mnemo.config import Settings, load_settings

# Variables read by Mnemo or the libraries under it (platformdirs, the openai and
# anthropic SDKs, Hugging Face, httpx's proxy support, Rich) that would make a test
# depend on the environment of whoever runs it.
_FOREIGN_PREFIXES = (
    "MNEMO_", "XDG_", "OPENAI_", "ANTHROPIC_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_",
    "SENTENCE_TRANSFORMERS_", "TORCH_", "CUDA_", "LANCE_",
)
_FOREIGN_NAMES = {
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ssl_cert_file", "ssl_cert_dir",
    "requests_ca_bundle", "curl_ca_bundle",
    "columns", "lines", "force_color", "no_color", "tty_compatible", "tty_interactive",
    "jupyter_columns", "jupyter_lines", "term",
}

#: Embedding off: for tests about anything but dense search (ingestion, sync, catalog, jobs...).
NO_EMBEDDER: dict[str, Any] = {"backend": "none"}


def _clear_foreign_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(_FOREIGN_PREFIXES) or key.lower() in _FOREIGN_NAMES:
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The caller's environment is cleared for the whole session, before any fixture runs:
    session-scoped fixtures (``indexed_library``) are built before the per-test clearing.
    One user cache (XDG_CACHE_HOME, returned) serves the whole session, so the packaged
    MiniLM is exported to ONNX once, not once per test."""
    cache = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clear_foreign_env(monkeypatch)
        monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("session-user-home")))
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _isolated_session_env: Path
) -> None:
    _clear_foreign_env(monkeypatch)  # again: a test before this one may have set some
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_isolated_session_env))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mnemo-home"


# -- the catalog: SQLite unless a module parametrises ``catalog_url`` (issue 19) -------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One throw-away PostgreSQL cluster per session (Debian's postgresql, on a Unix socket)."""
    from pgcluster import binaries, cluster

    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (initdb/pg_ctl): apt-get install postgresql")
    with cluster() as url:
        yield url


@pytest.fixture
def catalog_url() -> str | None:
    """None: SQLite in the home. A module that runs on both catalogs overrides it with
    ``catalog_url = pytest.fixture(params=[...])(catalog_backends)``."""
    return None


def catalog_backends(request: pytest.FixtureRequest) -> str | None:
    """For ``@pytest.fixture(params=["sqlite", "postgres"])``: a fresh database on the
    session's PostgreSQL cluster, or None for SQLite."""
    if request.param == "sqlite":
        return None
    from pgcluster import new_database

    return new_database(request.getfixturevalue("pg_server"))


def _catalog(url: str | None) -> dict[str, object]:
    return {"catalog": {"url": url}} if url else {}


@pytest.fixture
def settings(home: Path, catalog_url: str | None) -> Settings:
    # One parser process (files are always parsed in worker processes) keeps runs light.
    return load_settings(
        home, {"ingest": {"workers": 1}, "embedding": NO_EMBEDDER, **_catalog(catalog_url)}
    )


@pytest.fixture
def dense_settings(home: Path, catalog_url: str | None) -> Settings:
    """As ``settings``, with the packaged embedder: for tests about dense search."""
    return load_settings(home, {"ingest": {"workers": 1}, **_catalog(catalog_url)})


@pytest.fixture
def make_settings(home: Path, catalog_url: str | None) -> Callable[..., Settings]:
    """Settings with sections overridden; the embedder is off unless ``embedding`` is given
    (``embedding={}`` for the packaged default)."""

    def build(**sections: dict[str, object]) -> Settings:
        overrides: dict[str, object] = {"ingest": {"workers": 1}, **_catalog(catalog_url)}
        overrides["embedding"] = sections.pop("embedding", NO_EMBEDDER)
        for name, values in sections.items():
            overrides[name] = {**overrides.get(name, {}), **values}  # type: ignore[dict-item]
        return load_settings(home, overrides)

    return build


@pytest.fixture
def no_embedder_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MNEMO_EMBEDDING__BACKEND=none`` for the `mnemo` commands a test runs (both fixtures)."""
    monkeypatch.setenv("MNEMO_EMBEDDING__BACKEND", "none")


# -- one small collection, indexed once per session with the real embedder -----------



@pytest.fixture(scope="session")
def indexed_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding ``LIBRARY_DOCS`` indexed (keyword and dense) by the packaged
    embedder. Shared by every test that only reads it: never add, sync or delete here."""
    root = tmp_path_factory.mktemp("indexed-library")
    for name, text in LIBRARY_DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    home = root / "home"
    home.mkdir()
    # Shared by many tests: no answer cache, so that one test's answer is never another's.
    (home / "mnemo.toml").write_text("[cache]\nenabled = false\n")
    report = mnemo.add([root / "docs"], load_settings(home, {"ingest": {"workers": 1}}))
    assert report.counts["indexed"] == len(LIBRARY_DOCS)
    assert report.embedding.embedded > 0
    return home


# -- the `mnemo` command ---------------------------------------------------------------

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(home: Path, catalog_url: str | None) -> Cli:
    """Run `mnemo` in this process (Typer's test runner around ``mnemo.cli.app.main``)
    against the test's data directory; returns what a subprocess run would.

    ``env`` adds to the environment for the call only (the runner restores it), as the
    subprocess fixture's does; ``input`` is stdin. Streams are not terminals.
    """
    from typer.testing import CliRunner

    def run(
        *args: str,
        check: bool = False,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float | None = None,  # accepted for the subprocess fixture's signature
    ) -> subprocess.CompletedProcess[str]:
        values = {"MNEMO_HOME": str(home), "MNEMO_INGEST__WORKERS": "1", **(env or {})}
        if catalog_url:
            values.setdefault("MNEMO_CATALOG__URL", catalog_url)
        with CliRunner().isolation(input=input, env=values) as (stdout, stderr, _):
            # Imported here the first time, so Rich's consoles see a non-terminal.
            from mnemo.cli.app import main

            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            proc = subprocess.CompletedProcess(
                ["mnemo", *args], code, stdout.getvalue().decode(), stderr.getvalue().decode()
            )
        if check and proc.returncode != 0:
            raise AssertionError(f"mnemo {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def cli_process(home: Path, catalog_url: str | None) -> Cli:
    """Run the real `mnemo` command in a subprocess against the test's data directory.
    Slow (a Python start-up each): for exit codes, signals and terminals only."""

    def run(*args: str, check: bool = False, **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)  # MNEMO_* here were set by the test: the caller's are cleared
        env["MNEMO_HOME"] = str(home)
        env["MNEMO_INGEST__WORKERS"] = env.get("MNEMO_INGEST__WORKERS", "1")
        if catalog_url:
            env.setdefault("MNEMO_CATALOG__URL", catalog_url)
        env.update(kwargs.pop("env", {}))  # type: ignore[arg-type]
        proc = subprocess.run(
            [sys.executable, "-m", "mnemo", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=kwargs.pop("timeout", 300),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"mnemo {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run

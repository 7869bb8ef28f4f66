"""Shared fixtures: every test gets its own data directory; nothing touches ~."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mnemo.config import Settings, load_settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("MNEMO_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mnemo-home"


@pytest.fixture
def settings(home: Path) -> Settings:
    # One parser process (files are always parsed in worker processes) keeps runs light.
    return load_settings(home, {"ingest": {"workers": 1}})


@pytest.fixture
def make_settings(home: Path) -> Callable[..., Settings]:
    def build(**sections: dict[str, object]) -> Settings:
        overrides: dict[str, object] = {"ingest": {"workers": 1}}
        for name, values in sections.items():
            overrides[name] = {**overrides.get(name, {}), **values}  # type: ignore[dict-item]
        return load_settings(home, overrides)

    return build


@pytest.fixture
def cli(home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `mnemo` command in a subprocess against the test's data directory."""

    def run(*args: str, check: bool = False, **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        env["MNEMO_HOME"] = str(home)
        env["MNEMO_INGEST__WORKERS"] = env.get("MNEMO_INGEST__WORKERS", "1")
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

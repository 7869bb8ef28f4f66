"""Settings layering: defaults < mnemo.toml < MNEMO_* env < flags, with provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnemo.config import load_settings, settings_provenance
from mnemo.errors import ConfigError


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "mnemo.toml").write_text(text)


def test_defaults_when_nothing_is_set(home: Path) -> None:
    settings, origins = settings_provenance(home)
    assert settings.home == home.resolve()
    assert settings.collection == "default"
    assert settings.chunking.max_tokens == 200
    assert origins["chunking.max_tokens"] == "default"
    assert origins["home"] == "flag"


def test_each_layer_overrides_the_one_below(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml(
        home,
        'collection = "from-toml"\n[chunking]\nmax_tokens = 150\noverlap_tokens = 10\n'
        "[ingest]\nmax_pages = 10\n",
    )
    monkeypatch.setenv("MNEMO_CHUNKING__MAX_TOKENS", "180")
    monkeypatch.setenv("MNEMO_COLLECTION", "from-env")
    settings, origins = settings_provenance(home, {"collection": "from-flag"})
    assert settings.collection == "from-flag" and origins["collection"] == "flag"
    assert settings.chunking.max_tokens == 180 and origins["chunking.max_tokens"] == "env"
    assert settings.chunking.overlap_tokens == 10
    assert origins["chunking.overlap_tokens"] == "mnemo.toml"
    assert settings.ingest.max_pages == 10 and origins["ingest.max_pages"] == "mnemo.toml"
    assert origins["ingest.max_file_mb"] == "default"


def test_home_from_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MNEMO_HOME", str(tmp_path / "h"))
    settings, origins = settings_provenance()
    assert settings.home == (tmp_path / "h").resolve() and origins["home"] == "env"
    monkeypatch.delenv("MNEMO_HOME")
    settings, origins = settings_provenance()
    assert origins["home"] == "default"
    assert str(settings.home).startswith(str(tmp_path / "user-home"))


def test_unknown_key_names_key_and_layer(home: Path) -> None:
    write_toml(home, "[chunking]\nmax_tokenz = 3\n")
    with pytest.raises(ConfigError, match=r"chunking\.max_tokenz \(from mnemo\.toml\): unknown"):
        load_settings(home)


def test_invalid_value_from_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNEMO_INGEST__MAX_FILE_MB", "lots")
    with pytest.raises(ConfigError, match=r"ingest\.max_file_mb \(from env\)"):
        load_settings(home)


def test_overlap_must_be_smaller_than_chunk(home: Path) -> None:
    with pytest.raises(ConfigError, match="overlap_tokens"):
        load_settings(home, {"chunking": {"max_tokens": "50", "overlap_tokens": "50"}})


def test_broken_toml_names_the_file(home: Path) -> None:
    write_toml(home, "[chunking\nmax_tokens = 3\n")
    with pytest.raises(ConfigError, match=r"mnemo\.toml: invalid TOML"):
        load_settings(home)


def test_home_cannot_be_set_in_toml(home: Path) -> None:
    write_toml(home, 'home = "/elsewhere"\n')
    with pytest.raises(ConfigError, match="MNEMO_HOME"):
        load_settings(home)


def test_invalid_collection_name(home: Path) -> None:
    with pytest.raises(ConfigError, match="invalid collection name"):
        load_settings(home, {"collection": "../etc"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("allowed_hosts", "http://mnemo.example"),
        ("allowed_hosts", "mnemo.example:8443"),
        ("allowed_hosts", "*"),
        ("allowed_hosts", "*.example"),
        ("cors_origins", "*"),
        ("cors_origins", "app.example"),
        ("cors_origins", "https://app.example/path"),
    ],
)
def test_host_and_origin_lists_take_only_names_and_origins(
    home: Path, key: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=rf"server\.{key}"):
        load_settings(home, {"server": {key: [value]}})


def test_host_and_origin_lists_are_normalised(home: Path) -> None:
    given = {
        "allowed_hosts": ["Mnemo.Example", "[fe80::1]"],
        "cors_origins": ["https://A.example/"],
    }
    server = load_settings(home, {"server": given}).server
    assert server.allowed_hosts == ["mnemo.example", "fe80::1"]
    assert server.cors_origins == ["https://a.example"]


def test_config_show_cli(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    write_toml(home, "[ingest]\nmax_pages = 7\n")
    proc = cli(
        "--set",
        "chunking.overlap_tokens=5",
        "config",
        "show",
        "--json",
        env={"MNEMO_COLLECTION": "papers"},
        check=True,
    )
    shown = json.loads(proc.stdout)
    assert shown["ingest.max_pages"] == {"value": 7, "from": "mnemo.toml"}
    assert shown["chunking.overlap_tokens"] == {"value": 5, "from": "flag"}
    assert shown["collection"] == {"value": "papers", "from": "env"}
    assert shown["home"]["from"] == "env"
    table = cli("config", "show", check=True).stdout
    assert "ingest.max_pages" in table and "mnemo.toml" in table


def test_bad_setting_on_cli_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    proc = cli("--set", "chunking.max_tokens=abc", "status")
    assert proc.returncode == 2
    assert "chunking.max_tokens (from flag)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="session")
def session_environ() -> dict[str, str]:
    return dict(os.environ)


def test_session_fixtures_see_no_caller_settings(session_environ: dict[str, str]) -> None:
    leaked = [k for k in session_environ if k.startswith(("MNEMO_", "XDG_"))]
    assert leaked == ["XDG_CACHE_HOME"]  # the session's own model cache, not the caller's
    assert Path(session_environ["XDG_CACHE_HOME"]).name.startswith("user-cache")


def test_tests_ignore_the_callers_environment(tmp_path: Path) -> None:
    """The settings tests pass whatever the caller has set: XDG dirs, MNEMO_* settings."""
    here = Path(__file__)
    env = dict(
        os.environ,  # already cleared by the fixtures; add what a developer may have set
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        MNEMO_HOME=str(tmp_path / "caller-home"),
        MNEMO_COLLECTION="caller",
        MNEMO_CHUNKING__MAX_TOKENS="64",
    )
    tests = [
        "test_defaults_when_nothing_is_set",
        "test_home_from_env_and_default",
        "test_session_fixtures_see_no_caller_settings",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + [f"{here}::{name}" for name in tests],
        capture_output=True,
        text=True,
        env=env,
        cwd=here.parent.parent,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout

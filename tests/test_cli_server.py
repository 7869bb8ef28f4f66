"""`mnemo search` and `mnemo ask` handed to a running `mnemo serve` of the same home.

A real `mnemo serve` process on a free loopback port; the `mnemo` commands run in
this process (the ``cli`` fixture) and find it through ``<home>/serve.json``.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from serverutil import build_library, free_port

QUESTION = "When is Project Falcon's launch date?"


@dataclass
class Served:
    home: Path
    url: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    settings = build_library(root)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "--home", str(settings.home), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    record = settings.home / "serve.json"
    deadline = time.monotonic() + 180
    while not record.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("mnemo serve did not publish serve.json")
        time.sleep(0.1)
    try:
        yield Served(settings.home, f"http://127.0.0.1:{port}", process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def _hits(stdout: str) -> list[tuple[str, float]]:
    return [(hit["chunk_id"], round(hit["score"], 4)) for hit in json.loads(stdout)["hits"]]


def test_search_is_answered_by_the_running_server_as_it_would_be_in_process(
    cli, served: Served
) -> None:  # type: ignore[no-untyped-def]
    home = ("--home", str(served.home))
    shown = cli(*home, "search", "Falcon launch date", "-k", "3", check=True)
    assert f"by the server at {served.url}" in shown.stdout
    assert "Project Falcon" in shown.stdout

    handed = cli(*home, "search", "Falcon launch date", "-k", "3", "--json", check=True)
    alone = cli(*home, "--no-server", "search", "Falcon launch date", "-k", "3", "--json")
    assert "by the server" not in alone.stdout
    assert _hits(handed.stdout) == _hits(alone.stdout)
    hit = json.loads(handed.stdout)["hits"][0]
    # The same fields as in-process, highlights included.
    assert set(hit) == set(json.loads(alone.stdout)["hits"][0])
    assert hit["highlights"]

    filtered = cli(*home, "search", "launch", "--path", "notes/*", "--json", check=True)
    assert all(
        h["path"].endswith(("whatsapp.md", "tides.md")) for h in json.loads(filtered.stdout)["hits"]
    )


def test_ask_is_answered_by_the_running_server_with_the_same_answer(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    home = ("--home", str(served.home))
    shown = cli(*home, "ask", QUESTION, check=True)
    assert "12 March 2027" in shown.stdout
    assert "[1] " in shown.stdout and "falcon.md" in shown.stdout  # its source, numbered
    assert f"by the server at {served.url}" in shown.stdout

    handed = json.loads(cli(*home, "ask", QUESTION, "--json", check=True).stdout)
    alone = json.loads(cli(*home, "--no-server", "ask", QUESTION, "--json", check=True).stdout)
    for key in ("text", "kind", "citations", "query"):
        assert handed[key] == alone[key], key
    assert [s["path"] for s in handed["sources"]] == [s["path"] for s in alone["sources"]]
    assert list(handed) == list(alone)  # the same fields, in the same order


def test_other_settings_or_no_server_run_in_process(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    home = ("--home", str(served.home))
    # A setting that changes answers: the server runs with other settings.
    other = cli(*home, "--set", "answer.min_relevance=0.2", "ask", QUESTION, check=True)
    assert "12 March 2027" in other.stdout
    assert "by the server" not in other.stdout
    # Where the server listens does not change an answer.
    same = cli(*home, "--set", "server.port=9", "search", "Falcon", check=True)
    assert "by the server" in same.stdout
    alone = cli(*home, "--no-server", "search", "Falcon", check=True)
    assert "by the server" not in alone.stdout


def test_errors_from_the_server_are_the_commands_own(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    home = ("--home", str(served.home))
    handed = cli(*home, "search", "Falcon", "-c", "no-such-collection")
    alone = cli(*home, "--no-server", "search", "Falcon", "-c", "no-such-collection")
    assert handed.returncode == alone.returncode != 0
    assert handed.stderr.strip() == alone.stderr.strip()
    assert handed.stderr.count("\n") == 1 and "Traceback" not in handed.stderr


def test_the_token_is_private_and_opens_only_its_own_server(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    record = served.home / "serve.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    token = json.loads(record.read_text())["token"]
    # Once a key exists the server needs one; the CLI still gets in with the token.
    cli("--home", str(served.home), "keys", "create", "--scope", "read", check=True)
    search = f"{served.url}/collections/default/search"
    assert httpx.post(search, json={"query": "Falcon"}).status_code == 401
    wrong = {"Authorization": f"Bearer {token[:-2]}xx"}
    assert httpx.post(search, json={"query": "Falcon"}, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {token}"}
    assert httpx.post(search, json={"query": "Falcon"}, headers=right).status_code == 200
    shown = cli("--home", str(served.home), "search", "Falcon", check=True)
    assert "by the server" in shown.stdout


#: Modules a command handed to the server has no use for: the settings models, the core,
#: the index, models and the catalog, and httpx (its command line brings Rich's syntax
#: highlighting and Pygments). Not pydantic: Typer 0.29 builds its option parsers with it.
HEAVY = (
    "pydantic_settings",
    "mnemo.config.settings",
    "mnemo.library",
    "mnemo.retrieval.search",
    "mnemo.generation",
    "mnemo.catalog",
    "lancedb",
    "onnxruntime",
    "numpy",
    "sqlalchemy",
    "httpx",
)

_IMPORTED = """
import json, sys
from mnemo.cli.app import main
code = main(sys.argv[2:])
tops = json.loads(sys.argv[1])
heavy = sorted({n for n in sys.modules for t in tops if n == t or n.startswith(t + ".")})
print(json.dumps(heavy), file=sys.stderr)
sys.exit(code)
"""


def _handed_over_process(served: Served, *args: str) -> tuple[str, list[str]]:
    """``mnemo ARGS`` in a fresh process with the server's own environment: its stdout
    and the heavy modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTED, json.dumps(HEAVY), "--home", str(served.home), *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1])


def test_a_handed_over_command_imports_no_settings_models_core_or_models(served: Served) -> None:
    shown, heavy = _handed_over_process(served, "search", "Falcon launch date", "-k", "3")
    assert f"by the server at {served.url}" in shown and "Project Falcon" in shown
    assert heavy == []
    shown, heavy = _handed_over_process(served, "ask", QUESTION)
    assert "12 March 2027" in shown and f"by the server at {served.url}" in shown
    assert heavy == []
    # The same command in-process loads them all (this test would see them).
    shown, heavy = _handed_over_process(served, "--no-server", "search", "Falcon", "-k", "1")
    assert "by the server" not in shown and "mnemo.library" in heavy


def test_an_edited_settings_file_is_not_taken_for_the_servers_settings(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    file = served.home / "mnemo.toml"
    before = file.read_bytes() if file.exists() else None
    home = ("--home", str(served.home))
    try:
        file.write_text("[answer]\nmin_relevance = 0.2\n")
        edited = cli(*home, "search", "Falcon", check=True)
        assert "by the server" not in edited.stdout
    finally:
        if before is None:
            file.unlink()
        else:
            file.write_bytes(before)
    shown, _ = _handed_over_process(served, "search", "Falcon")
    assert "by the server" in shown


def test_a_stopped_server_is_withdrawn_and_a_dead_ones_record_ignored(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    served.process.send_signal(signal.SIGINT)
    served.process.wait(60)
    record = served.home / "serve.json"
    assert not record.exists()
    # A record left behind by a server that died (killed, power cut) is not used.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    record.write_text(
        json.dumps({"pid": int(dead.stdout), "url": served.url, "token": "x", "fingerprint": "y"})
    )
    shown = cli("--home", str(served.home), "search", "Falcon", check=True)
    assert "Project Falcon" in shown.stdout and "by the server" not in shown.stdout


def test_a_server_that_does_not_answer_is_passed_over(cli, served: Served) -> None:  # type: ignore[no-untyped-def]
    """A live process holds the record but nothing listens at its address (it hangs
    up, or was replaced): the command runs in-process, once, and says nothing."""
    from mnemo.config import load_settings, serving

    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
        served.process.wait(60)
    settings = load_settings(served.home)
    record = serving.ServingRecord(
        pid=os.getpid(),  # alive: this test
        url=f"http://127.0.0.1:{free_port()}",
        token="x",
        fingerprint=serving.fingerprint(settings),
        inputs=serving.inputs(settings.home, []),
    )
    serving.write(served.home, record)
    try:
        for args in (("search", "Falcon"), ("ask", QUESTION)):
            shown = cli("--home", str(served.home), *args, check=True)
            assert "by the server" not in shown.stdout, args
            assert "Falcon" in shown.stdout and "error" not in shown.stderr.lower(), args
    finally:
        (served.home / "serve.json").unlink()


def test_the_api_carries_every_field_the_cli_shows() -> None:
    """A command handed to the server prints what the API sends: every field of the core's
    answers and hits must be in the API's models (a new one, too)."""
    from dataclasses import fields

    from mnemo.generation.types import Answer
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.search import SearchHit, SearchResponse
    from mnemo.server import schemas

    pairs = [
        (Answer, schemas.AnswerOut),
        (ContextPassage, schemas.SourceOut),
        (SearchResponse, schemas.SearchOut),
        (SearchHit, schemas.Hit),
    ]
    for core, api in pairs:
        missing = {f.name for f in fields(core)} - set(api.model_fields)
        assert not missing, f"{api.__name__} lacks {sorted(missing)} of {core.__name__}"

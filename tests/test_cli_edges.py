"""The command's rough edges, as a user meets them (issue 13): usage errors, filters on
every command that searches, collections, documents and settings from the command line,
URLs, empty PDFs, titles, and output that reads well in a pipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_embedder_env")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "falcon.md").write_text("# Falcon\n\nProject Falcon goes live on 2024-09-15.\n")
    (root / "falcon.txt").write_text("Project Falcon goes live after the review of the plan.\n")
    return root


def _paths(rows: list[dict[str, object]]) -> list[str]:
    return sorted(Path(str(row["path"])).name for row in rows)


# -- usage errors -----------------------------------------------------------------------


def test_bad_option_or_command_is_a_usage_error(cli, cli_process) -> None:  # type: ignore[no-untyped-def]
    proc = cli_process("search", "--bogus", "x")
    assert proc.returncode == 2
    assert "No such option: --bogus" in proc.stderr and "unexpected" not in proc.stderr
    assert "Usage: mnemo search" in proc.stderr
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and "No such command 'frobnicate'" in unknown.stderr
    missing = cli("search")
    assert missing.returncode == 2 and "Missing argument" in missing.stderr
    both = cli("docs", "list", "--failed", "--skipped")
    assert both.returncode == 2 and "give at most one of" in both.stderr


# -- filters: --type takes extensions; ask and chat filter like search -------------------


def test_type_takes_extensions_and_media_types(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes), check=True)

    def found(*args: str) -> list[str]:
        hits = json.loads(cli("search", "falcon", "--json", *args, check=True).stdout)["hits"]
        return _paths(hits)

    assert found() == ["falcon.md", "falcon.txt"]
    assert found("--type", "md") == found("--type", ".MD") == ["falcon.md"]
    assert found("--type", "text/markdown") == ["falcon.md"]
    assert found("--type", "txt") == ["falcon.txt"]
    assert found("--type", "pdf") == []
    assert found("-t", "md", "-t", "txt") == ["falcon.md", "falcon.txt"]
    bad = cli("search", "falcon", "--type", "xyz")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: --type 'xyz': not a media type")


def test_ask_and_chat_take_the_search_filters(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes), check=True)
    question = "When does Project Falcon go live?"

    def sources(*args: str) -> list[str]:
        answer = json.loads(cli("ask", question, "--json", *args, check=True).stdout)
        return _paths(answer["sources"])

    assert sources() == ["falcon.md", "falcon.txt"]
    assert sources("--type", "txt") == ["falcon.txt"]
    assert sources("--path", "*.md") == ["falcon.md"]
    assert sources("--type", "docx") == []
    assert sources("--before", "2000-01-01") == []

    chat = cli("chat", "--type", "txt", input=f"{question}\n\n", check=True)
    assert "falcon.txt" in chat.stdout and "falcon.md" not in chat.stdout
    help_text = cli("chat", "--help", check=True).stdout
    for option in ("--path", "--type", "--tag", "--after", "--before"):
        assert option in help_text


# -- keys and conversations ---------------------------------------------------------------


def test_keys_list_says_when_there_are_none(cli) -> None:  # type: ignore[no-untyped-def]
    listed = cli("keys", "list", check=True)
    assert "No API keys yet" in listed.stdout and "mnemo keys create" in listed.stdout
    assert json.loads(cli("keys", "list", "--json", check=True).stdout) == []
    cli("keys", "create", "--scope", "read", "--name", "laptop", check=True)
    listed = cli("keys", "list", check=True).stdout
    assert "laptop" in listed and "No API keys" not in listed


def test_conversations_list_shows_every_collection(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes / "falcon.md"), "-c", "work", check=True)
    cli("add", str(notes / "falcon.txt"), "-c", "home", check=True)
    cli("chat", "-c", "work", input="When does Falcon go live?\n\n", check=True)
    cli("chat", "-c", "home", input="What happens after the review?\n\n", check=True)
    everything = json.loads(cli("conversations", "list", "--json", check=True).stdout)
    assert sorted(c["collection"] for c in everything) == ["home", "work"]
    text = cli("conversations", "list", check=True).stdout
    assert "work" in text and "home" in text
    only = json.loads(cli("conversations", "list", "-c", "work", "--json", check=True).stdout)
    assert [c["collection"] for c in only] == ["work"]

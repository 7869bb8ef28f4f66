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


# -- collections, documents and settings from the command line ------------------------------


def test_collections_list_create_rename_delete(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    assert "No collections yet" in cli("collections", "list", check=True).stdout
    cli("add", str(notes), check=True)
    created = cli("collections", "create", "work", check=True)
    assert "Created collection 'work'" in created.stdout
    again = cli("collections", "create", "work")
    assert again.returncode == 2 and "collection 'work' already exists" in again.stderr
    listed = json.loads(cli("collections", "list", "--json", check=True).stdout)
    assert [(c["name"], c["chunks"]) for c in listed] == [("default", 2), ("work", 0)]

    renamed = cli("collections", "rename", "default", "notes", check=True)
    assert "Renamed collection 'default' to 'notes'" in renamed.stdout
    assert "mnemo config set collection notes" in renamed.stdout  # it was the default one
    hits = json.loads(cli("search", "falcon", "-c", "notes", "--json", check=True).stdout)["hits"]
    assert _paths(hits) == ["falcon.md", "falcon.txt"]  # its index moved with it
    assert cli("search", "falcon", "-c", "default").returncode == 2
    taken = cli("collections", "rename", "notes", "work")
    assert taken.returncode == 2 and "already exists" in taken.stderr
    bad = cli("collections", "rename", "notes", "bad name!")
    assert bad.returncode == 2 and "invalid collection name" in bad.stderr

    unasked = cli("collections", "delete", "work")  # not a terminal: no question to answer
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    assert "Deleted collection 'work'" in cli("collections", "delete", "work", "-y").stdout
    names = [c["name"] for c in json.loads(cli("collections", "list", "--json").stdout)]
    assert names == ["notes"]
    assert notes.joinpath("falcon.md").exists()


def test_docs_remove_by_name_path_or_id(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes / "falcon.md"), str(notes / "falcon.txt"), check=True)
    removed = cli("docs", "remove", "falcon.md", check=True)
    assert f"Removed {notes / 'falcon.md'}" in removed.stdout
    docs = json.loads(cli("docs", "list", "--json", check=True).stdout)
    assert _paths(docs) == ["falcon.txt"]
    cli("docs", "remove", docs[0]["id"], check=True)
    assert json.loads(cli("docs", "list", "--json", check=True).stdout) == []
    hits = json.loads(cli("search", "falcon", "--json", check=True).stdout)["hits"]
    assert hits == []
    missing = cli("docs", "remove", "nothing.md")
    assert missing.returncode != 0 and "no document 'nothing.md'" in missing.stderr


def test_config_set_writes_mnemo_toml_and_keeps_comments(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True)
    toml = home / "mnemo.toml"
    toml.write_text("# my settings\n\n[chunking]\n# small chunks\nmax_tokens = 100\n")
    assert "chunking.max_tokens = 300" in cli("config", "set", "chunking.max_tokens", "300").stdout
    cli("config", "set", "collection", "notes", check=True)
    cli("config", "set", "server.allowed_hosts", '["mnemo.example"]', check=True)
    text = toml.read_text()
    assert "# my settings" in text and "# small chunks" in text
    shown = json.loads(cli("config", "show", "--json", check=True).stdout)
    assert shown["chunking.max_tokens"] == {"value": 300, "from": "mnemo.toml"}
    assert shown["collection"] == {"value": "notes", "from": "mnemo.toml"}
    assert shown["server.allowed_hosts"]["value"] == ["mnemo.example"]

    for args, message in (
        (("chunking.nope", "1"), "error: chunking.nope: unknown setting"),
        (("chunking.max_tokens", "lots"), "chunking.max_tokens (from mnemo config set)"),
        (("collection", "bad name!"), "invalid collection name"),
        (("home", "/elsewhere"), "'home' cannot be set in mnemo.toml"),
    ):
        proc = cli("config", "set", *args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert toml.read_text() == text  # refused values leave the file alone


# -- adding: URLs, empty PDFs, PDF titles ---------------------------------------------------


def test_a_url_that_cannot_be_fetched_fails_and_the_rest_is_added(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    url = "https://nonexistent.invalid/paper.pdf"
    proc = cli("add", str(notes), url)
    assert proc.returncode == 1
    assert f"{url}: cannot find the host nonexistent.invalid (DNS)" in proc.stdout
    assert "2 indexed" in proc.stdout
    alone = cli("add", "ftp://example.com/paper.pdf")
    assert alone.returncode == 2
    assert alone.stderr.strip() == (
        "error: ftp://example.com/paper.pdf: only http:// and https:// addresses can be "
        "added; download the file and add the saved copy"
    )


def test_empty_pdf_is_skipped_and_pdf_titles_are_consistent(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import docgen

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "empty.docx").write_bytes(b"")
    docgen.pdf(folder / "titled.pdf", [["Zebra stripes confuse flies."]], title="On Zebras")
    docgen.pdf(
        folder / "bookmarked.pdf",
        [["Zebra herds migrate in spring."]],
        outline=[(0, 0, "Zebra Migration")],
    )
    docgen.pdf(folder / "plain.pdf", [["Zebra foals stand within an hour."]])
    added = cli("add", str(folder))
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"{folder / 'empty.pdf'}: empty file (0 bytes)" in added.stdout
    assert f"{folder / 'empty.docx'}: empty file (0 bytes)" in added.stdout

    hits = json.loads(cli("search", "zebra", "--json", check=True).stdout)["hits"]
    titles = {Path(h["path"]).name: h["title"] for h in hits}
    assert titles == {
        "titled.pdf": "On Zebras",
        "bookmarked.pdf": "Zebra Migration",
        "plain.pdf": "plain.pdf",
    }
    shown = cli("search", "zebra", check=True).stdout
    assert all(title in shown for title in titles.values())


# -- output ---------------------------------------------------------------------------------


def test_status_table_is_whole_in_a_pipe(cli, cli_process, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes), "-c", "a-rather-long-collection-name", check=True)
    proc = cli_process("status", env={"COLUMNS": "60"}, check=True)
    assert "…" not in proc.stdout
    assert "a-rather-long-collection-name" in proc.stdout
    assert "last run" in proc.stdout and "add completed" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if "a-rather-long" in line)
    assert "add completed" in row  # one row per collection, not wrapped
    status = json.loads(cli_process("status", "--json", check=True).stdout)
    assert status[0]["name"] == "a-rather-long-collection-name"


def test_serve_says_where_and_whether_keys_are_needed(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from serverutil import free_port

    def ready_line() -> str:
        port = free_port()
        env = dict(os.environ, MNEMO_HOME=str(home))
        proc = subprocess.Popen(
            [sys.executable, "-m", "mnemo", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("Mnemo is serving"):
                    assert f"http://127.0.0.1:{port}" in line
                    return line
            raise AssertionError("the server stopped before it was ready")
        finally:
            proc.terminate()
            proc.wait(30)

    assert "no API key required" in ready_line()
    cli("keys", "create", "--scope", "admin", check=True)
    assert "API keys required (1 active" in ready_line()

"""The `mnemo` command as a user meets it: output, JSON, exit codes, errors.

Most tests run the command in-process (the ``cli`` fixture); the exit codes, the
one-line errors and the silent pipe are also checked on the real process
(``cli_process``). Dense search is not the subject here: the embedder is off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_embedder_env")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "one.md").write_text("---\ntags: [work]\n---\n# One\n\nFirst note about #planning.\n")
    (root / "two.txt").write_text("Second note.\n")
    (root / "empty.txt").write_text("")
    return root


def test_add_status_and_docs(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    added = cli("add", str(notes), check=True)
    assert "default: 2 indexed, 0 unchanged, 1 skipped" in added.stdout
    assert f"{notes / 'empty.txt'}: empty file" in added.stdout

    status = json.loads(cli("status", "--json", check=True).stdout)
    assert status[0]["name"] == "default"
    assert status[0]["documents"] == {"indexed": 2, "skipped": 1, "failed": 0}
    assert status[0]["chunks"] == 2 and status[0]["sources"] == 1
    assert status[0]["last_run"]["status"] == "completed"

    table = cli("status", check=True).stdout
    assert re.search(r"default\s*│\s*1\s*│\s*2\s*│\s*1\s*│\s*0\s*│\s*2", table)

    docs = json.loads(cli("docs", "list", "--json", check=True).stdout)
    assert [Path(d["path"]).name for d in docs] == ["empty.txt", "one.md", "two.txt"]
    one = next(d for d in docs if d["path"].endswith("one.md"))
    assert one["tags"] == ["work", "planning"] and one["title"] == "One"
    skipped = json.loads(cli("docs", "list", "--skipped", "--json", check=True).stdout)
    assert [Path(d["path"]).name for d in skipped] == ["empty.txt"]
    assert "empty file" in skipped[0]["reason"]

    again = cli("sync", check=True)
    assert "0 indexed, 3 unchanged" in again.stdout


def test_add_json_report(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(cli("add", str(notes), "--json", check=True).stdout)
    assert report["counts"]["indexed"] == 2 and report["exit_code"] == 0
    assert report["status"] == "completed"
    assert {o["outcome"] for o in report["outcomes"]} == {"indexed", "skipped"}


def test_failures_exit_nonzero_with_reasons(cli, cli_process, notes: Path) -> None:  # type: ignore[no-untyped-def]
    (notes / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    proc = cli_process("add", str(notes))  # the real process's exit code
    assert proc.returncode == 1
    assert "1 failed" in proc.stdout and "broken.pdf: corrupt or truncated PDF" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    failed = json.loads(cli("docs", "list", "--failed", "--json").stdout)
    assert [Path(d["path"]).name for d in failed] == ["broken.pdf"]


def test_collection_flag(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes / "one.md"), "-c", "work", check=True)
    names = [c["name"] for c in json.loads(cli("status", "--json", check=True).stdout)]
    assert names == ["work"]
    assert json.loads(cli("docs", "list", "-c", "work", "--json", check=True).stdout)[0]["path"].endswith(
        "one.md"
    )
    proc = cli("docs", "list", "-c", "play")
    assert proc.returncode == 2 and "no collection named 'play' (known: work)" in proc.stderr
    bad = cli("add", str(notes), "-c", "bad name!")
    assert bad.returncode == 2 and "invalid collection name" in bad.stderr


def test_sources_list_and_remove(cli, notes: Path) -> None:  # type: ignore[no-untyped-def]
    cli("add", str(notes), "--exclude", "*.txt", check=True)
    listed = json.loads(cli("sources", "list", "--json", check=True).stdout)
    assert listed[0]["path"] == str(notes) and listed[0]["exclude"] == ["*.txt"]
    removed = cli("sources", "remove", str(notes), check=True)
    assert "and 1 document(s)" in removed.stdout
    assert json.loads(cli("docs", "list", "--json", check=True).stdout) == []


def test_errors_are_one_line_and_debug_shows_traceback(cli_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope"
    proc = cli_process("add", str(missing))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {missing}: no such file or folder"
    debug = cli_process("--debug", "add", str(missing))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_busy_collection_is_reported(cli, cli_process, notes: Path, home: Path) -> None:  # type: ignore[no-untyped-def]
    from filelock import FileLock

    cli("add", str(notes), check=True)
    (home / "locks").mkdir(exist_ok=True)
    with FileLock(str(home / "locks" / "default.lock")):
        proc = cli_process("sync")  # another process holds the lock
    assert proc.returncode == 3
    assert "another Mnemo process is updating collection 'default'" in proc.stderr


def test_quiet_when_not_a_terminal(cli_process, notes: Path) -> None:  # type: ignore[no-untyped-def]
    proc = cli_process("add", str(notes), check=True)
    # no progress bar drawn into a pipe: only the note that dense search is off
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    assert [line.split(":")[0] for line in proc.stderr.splitlines()] == ["note"]


def test_corrupt_catalog_is_a_clear_error(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True)
    (home / "catalog.db").write_bytes(b"this is not a database" * 100)
    proc = cli("status")
    assert proc.returncode == 1
    assert "cannot open the catalog" in proc.stderr and "Traceback" not in proc.stderr


def test_version_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("--version", check=True).stdout.startswith("mnemo ")
    assert "add" in cli("--help", check=True).stdout

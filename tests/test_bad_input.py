"""A folder of hostile files: the run goes on and every file ends in one state."""

from __future__ import annotations

import json
import os
import resource
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_embedder_env")  # not about dense search

import documents as make
from mnemo import api
from mnemo.config import Settings
from mnemo.events import Event


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "whitespace.md").write_text("  \n\n\t\n")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (root / "invalid-utf8.txt").write_bytes(b"caf\xe9 cr\xe8me br\xfbl\xe9e and more text\n")
    with (root / "huge.txt").open("wb") as handle:  # 200 MB, sparse: costs no disk or time
        handle.truncate(200 * 1024 * 1024)
    good_pdf = make.pdf(tmp_path / "good.pdf", [["a real page of text"]] * 4)
    make.truncated_pdf(root / "truncated.pdf", good_pdf)
    make.encrypted_pdf(root / "encrypted.pdf", good_pdf)
    make.fake_docx(root / "not-really.docx")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    (root / "archive.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    deep = root
    for level in range(120):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)
    (deep / "deepest.md").write_text("# Deep\n\nFound at the bottom.\n")
    (root / "loop").mkdir()
    (root / "loop" / "inner.txt").write_text("inside the loop folder\n")
    os.symlink(root / "loop", root / "loop" / "again")  # loop/again -> loop
    os.symlink(root / "nowhere.txt", root / "broken-link.txt")
    os.mkfifo(root / "pipe.txt")
    (root / "fine.md").write_text("# Fine\n\nA perfectly normal note.\n")
    return root


def make_warmup(parent: Path) -> Path:
    folder = parent / "warm-up"
    folder.mkdir()
    for n in range(3):
        (folder / f"note{n}.md").write_text(f"# Note {n}\n\n" + "Some words to index. " * 200)
    return folder


def test_every_hostile_file_gets_a_state(hostile: Path, settings: Settings) -> None:
    # The index's own memory is not the file's: warm it up first (the embedder is off).
    api.add([make_warmup(hostile.parent)], settings, collection="warm-up")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = api.add([hostile], settings)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 150, "the 200 MB file must not be read into memory"

    docs = {os.path.relpath(d.path, hostile): d for d in api.documents(settings)}
    state = {name: d.status for name, d in docs.items()}
    reason = {name: d.reason or "" for name, d in docs.items()}
    deepest = os.path.relpath(next(hostile.rglob("deepest.md")), hostile)
    assert state["fine.md"] == state["invalid-utf8.txt"] == state[deepest] == "indexed"
    assert state["loop/inner.txt"] == "indexed"
    assert "empty file" in reason["empty.txt"]
    assert "only whitespace" in reason["whitespace.md"]
    assert "binary content" in reason["binary.txt"]
    assert "209.7 MB, over the 100.0 MB limit" in reason["huge.txt"]
    assert "corrupt or truncated PDF" in reason["truncated.pdf"]
    assert "encrypted PDF" in reason["encrypted.pdf"]
    assert "not a valid Word" in reason["not-really.docx"]
    assert "not a readable image" in reason["photo.png"]  # a PNG header and then nothing
    assert "unsupported file type" in reason["archive.zip"]
    for name in ("empty.txt", "whitespace.md", "binary.txt", "huge.txt", "photo.png"):
        assert state[name] == "skipped", name
    for name in ("truncated.pdf", "encrypted.pdf", "not-really.docx"):
        assert state[name] == "failed", name

    # What is not a document is still reported by the run, with a reason.
    problems = {os.path.relpath(o.path, hostile): o.reason for o in report.outcomes if o.path not in {d.path for d in docs.values()}}
    assert "symbolic link loop" in problems["loop/again"]
    assert "broken symbolic link" in problems["broken-link.txt"]
    assert "not a regular file" in problems["pipe.txt"]
    assert report.counts["failed"] == 3 and report.exit_code == 1
    assert report.status == "completed"


def test_hostile_folder_through_the_cli(hostile: Path, cli) -> None:  # type: ignore[no-untyped-def]
    proc = cli("add", str(hostile))
    assert proc.returncode == 1  # failures the user should look at
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "3 failed" in proc.stdout
    failed = json.loads(cli("docs", "list", "--failed", "--json", check=True).stdout)
    assert sorted(Path(d["path"]).name for d in failed) == [
        "encrypted.pdf",
        "not-really.docx",
        "truncated.pdf",
    ]
    assert all(d["reason"] for d in failed)


def test_only_skips_exit_zero(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "skips"
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    (root / "ok.txt").write_text("fine\n")
    proc = cli("add", str(root))
    assert proc.returncode == 0 and "2 skipped" in proc.stdout


def test_size_limit_is_configurable(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "medium.txt"
    path.write_text("word " * 400_000)  # 2 MB
    settings = make_settings(ingest={"max_file_mb": 1})
    api.add([path], settings)
    (doc,) = api.documents(settings)
    assert doc.status == "skipped" and "raise ingest.max_file_mb" in (doc.reason or "")


def test_chunk_limit(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(f"Paragraph {i} has a few words in it." for i in range(400)))
    settings = make_settings(ingest={"max_chunks_per_file": 5})
    api.add([path], settings)
    (doc,) = api.documents(settings)
    assert doc.status == "skipped" and "over the limit of 5" in (doc.reason or "")


def test_files_that_vanish_or_turn_unreadable_mid_run(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "changing"
    root.mkdir()
    for name in ("a.md", "b.md", "c.md", "d.md"):
        (root / name).write_text(f"# {name}\n\ncontent of {name}\n")
    done: list[str] = []

    def meddle(event: Event) -> None:
        if event.kind == "file" and not done:
            done.append(event.path or "")
            (root / "b.md").unlink()  # vanishes before it is read
            (root / "c.md").unlink()
            (root / "c.md").mkdir()  # and this one turns into a folder

    report = api.add([root], settings, on_event=meddle)
    outcome = {Path(o.path).name: (o.outcome, o.reason or "") for o in report.outcomes}
    assert outcome["a.md"][0] == outcome["d.md"][0] == "indexed"
    assert outcome["b.md"] == ("failed", "file disappeared during the run")
    assert outcome["c.md"][0] == "failed" and "folder" in outcome["c.md"][1]
    assert report.status == "completed"

    # The next sync settles it: gone is gone, and nothing else is touched.
    shutil.rmtree(root / "c.md")
    again = api.sync(settings)
    assert again.counts["removed"] == 2 and again.counts["unchanged"] == 2
    assert sorted(Path(d.path).name for d in api.documents(settings)) == ["a.md", "d.md"]


def test_transient_failure_is_retried(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "retry"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nfirst\n")
    (root / "b.md").write_text("# B\n\nsecond\n")
    removed: list[bytes] = []

    def hide_b(event: Event) -> None:
        if event.kind == "file" and not removed:
            removed.append((root / "b.md").read_bytes())
            (root / "b.md").unlink()

    api.add([root], settings, on_event=hide_b)
    (root / "b.md").write_bytes(removed[0])  # it comes back
    report = api.sync(settings)
    assert report.counts["indexed"] == 1 and report.counts["failed"] == 0
    assert {Path(d.path).name: d.status for d in api.documents(settings)} == {
        "a.md": "indexed",
        "b.md": "indexed",
    }

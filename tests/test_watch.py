"""`mnemo watch` keeps a collection in step with the file system."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from mnemo.catalog import Catalog, Chunk


def _first_run_done(cli: Callable[..., subprocess.CompletedProcess[str]]) -> bool:
    found = cli("status", "--json")
    if found.returncode != 0 or not found.stdout.strip():
        return False
    runs = [c["last_run"] for c in json.loads(found.stdout) if c["last_run"]]
    return any(r["status"] == "completed" for r in runs)


def wait_for(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for watch"
        time.sleep(0.2)


def test_watch_follows_new_edited_moved_and_deleted_files(tmp_path: Path, home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "first.md").write_text("# First\n\nOriginal text.\n")
    cli("add", str(notes), check=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env.update(MNEMO_HOME=str(home), MNEMO_INGEST__WORKERS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def docs() -> dict[str, dict[str, object]]:
        listed = cli("docs", "list", "--json", check=True).stdout
        return {Path(d["path"]).name: d for d in json.loads(listed)}

    try:
        wait_for(lambda: (home / "catalog.db").exists())
        wait_for(lambda: _first_run_done(cli))  # the first sync loads the embedder
        time.sleep(2)  # let the watcher start
        (notes / "second.md").write_text("# Second\n\nA new note.\n")
        (notes / ".draft.md").write_text("# hidden, never indexed\n")
        wait_for(lambda: "second.md" in docs())
        (notes / "first.md").write_text("# First\n\nEdited text.\n")
        wait_for(lambda: "Edited text" in chunk_texts(home))
        (notes / "sub").mkdir()
        (notes / "second.md").rename(notes / "sub" / "moved.md")
        wait_for(lambda: set(docs()) == {"first.md", "moved.md"})
        (notes / "first.md").unlink()
        wait_for(lambda: set(docs()) == {"moved.md"})
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopped watching." in err and "Traceback" not in err
    assert "1 moved" in out


def chunk_texts(home: Path) -> str:
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        return "\n".join(session.scalars(select(Chunk.text)))

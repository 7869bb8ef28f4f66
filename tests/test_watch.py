"""`mnemo watch` keeps a collection in step with the file system.

The command runs as a real process (it is stopped with SIGINT, as Ctrl-C does). The
test paces itself on events, never on the clock: the process's "Watching" line (its
``on_ready``), then the catalog's state after each change. The embedder is off: dense
search is not the subject, and loading the model made the first event wait ~35 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog, Chunk
from mnemo.config import load_settings

pytestmark = pytest.mark.usefixtures("no_embedder_env")

# Only a bound on a failing run: the test waits for events, and a loaded machine is slow.
FAIL_AFTER = 180.0


def wait_for(check: Callable[[], bool], what: str, timeout: float = FAIL_AFTER) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"watch never got to: {what}"
        time.sleep(0.1)


@pytest.mark.slow  # a real process, a dozen file-system events
def test_watch_follows_new_edited_moved_and_deleted_files(tmp_path: Path, home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "first.md").write_text("# First\n\nOriginal text.\n")
    cli("add", str(notes), check=True)
    settings = load_settings(home)

    def docs() -> set[str]:
        return {Path(d.path).name for d in api.documents(settings)}

    env = dict(os.environ, MNEMO_HOME=str(home), MNEMO_INGEST__WORKERS="1")
    with (tmp_path / "watch-stdout.txt").open("w+") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mnemo", "watch"],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        stderr: list[str] = []

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr.append(line)
                if line.startswith("Watching collection"):
                    ready.set()  # printed by the command's on_ready: the first sync is done

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            assert ready.wait(FAIL_AFTER), "".join(stderr)
            # on_ready comes just before the file watcher subscribes: a probe file,
            # written again until it is indexed, shows that the watcher is live.
            probe = notes / "probe.md"
            for attempt in range(int(FAIL_AFTER / 2)):
                probe.write_text(f"# Probe\n\nAttempt {attempt}.\n")
                again = time.monotonic() + 2
                while "probe.md" not in docs() and time.monotonic() < again:
                    time.sleep(0.1)
                if "probe.md" in docs():
                    break
            else:
                raise AssertionError("the watcher never saw a new file: " + "".join(stderr))
            probe.unlink()
            wait_for(lambda: docs() == {"first.md"}, "the probe deleted")

            (notes / "second.md").write_text("# Second\n\nA new note.\n")
            (notes / ".draft.md").write_text("# hidden, never indexed\n")
            wait_for(lambda: "second.md" in docs(), "second.md indexed")
            (notes / "first.md").write_text("# First\n\nEdited text.\n")
            wait_for(lambda: "Edited text" in chunk_texts(home), "first.md re-indexed")
            (notes / "sub").mkdir()
            (notes / "second.md").rename(notes / "sub" / "moved.md")
            wait_for(lambda: docs() == {"first.md", "moved.md"}, "second.md moved")
            (notes / "first.md").unlink()
            wait_for(lambda: docs() == {"moved.md"}, "first.md deleted")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
            reader.join(timeout=10)
        stdout.seek(0)
        out, err = stdout.read(), "".join(stderr)
    assert proc.returncode == 0, err
    assert "Stopped watching." in err and "Traceback" not in err
    assert "1 moved" in out


def chunk_texts(home: Path) -> str:
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        return "\n".join(session.scalars(select(Chunk.text)))

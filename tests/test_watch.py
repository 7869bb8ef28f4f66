"""`mnemo watch` keeps a collection in step with the file system.

The command runs as a real process (it is stopped with SIGINT, as Ctrl-C does). The
tests pace themselves on events, never on the clock: the process's "Watching" line
(its ``on_ready``), then the catalog's state after each change. The embedder is off: dense
search is not the subject, and loading the model made the first event wait ~35 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog, Chunk, Run, RunFile
from mnemo.config import Settings, load_settings

pytestmark = pytest.mark.usefixtures("no_embedder_env")

# Only a bound on a failing run: the test waits for events, and a loaded machine is slow.
FAIL_AFTER = 180.0
#: How long a Ctrl-C may take to end the process: a bound that catches a hang, not a speed.
STOP_WITHIN = 30.0


def wait_for(check: Callable[[], bool], what: str, timeout: float = FAIL_AFTER) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"watch never got to: {what}"
        time.sleep(0.1)


@dataclass
class Watcher:
    """A running `mnemo watch` and what it printed."""

    proc: subprocess.Popen[str]
    stdout: Path
    stderr: list[str] = field(default_factory=list)

    def err(self) -> str:
        return "".join(self.stderr)

    def ctrl_c(self) -> int:
        """SIGINT to the command's whole process group, as a terminal's Ctrl-C sends it;
        returns the exit status, which must come within STOP_WITHIN seconds."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"`mnemo watch` still runs {STOP_WITHIN:g} s after Ctrl-C"
            ) from None


#: Starts the command with SIGINT as a shell gives it: handled by default and not
#: blocked. A child inherits an ignored or blocked SIGINT from the process that starts
#: it, and in the full suite something before this file leaves the test process that
#: way (both Ctrl-C tests hung there, never alone); a user's terminal does not.
AS_FROM_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "os.execv(sys.executable, [sys.executable, '-m', 'mnemo', 'watch'])"
)


@contextmanager
def watching(tmp_path: Path, home: Path, notes: Path, settings: Settings) -> Iterator[Watcher]:
    """`mnemo watch` on the collection, once it sees changes (a probe file was indexed)."""
    env = dict(os.environ, MNEMO_HOME=str(home), MNEMO_INGEST__WORKERS="1")
    with (tmp_path / "watch-stdout.txt").open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-c", AS_FROM_A_TERMINAL],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    watcher = Watcher(proc, tmp_path / "watch-stdout.txt")
    ready = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            watcher.stderr.append(line)
            if line.startswith("Watching collection"):
                ready.set()  # printed by the command's on_ready: the first sync is done

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert ready.wait(FAIL_AFTER), watcher.err()
        # A probe file, written again until it is indexed, shows that the watcher is live.
        probe = notes / "probe.md"
        for attempt in range(int(FAIL_AFTER / 2)):
            probe.write_text(f"# Probe\n\nAttempt {attempt}.\n")
            again = time.monotonic() + 2
            while "probe.md" not in doc_names(settings) and time.monotonic() < again:
                time.sleep(0.1)
            if "probe.md" in doc_names(settings):
                break
        else:
            raise AssertionError("the watcher never saw a new file: " + watcher.err())
        probe.unlink()
        wait_for(lambda: "probe.md" not in doc_names(settings), "the probe deleted")
        yield watcher
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)


@pytest.mark.slow  # a real process, a dozen file-system events
def test_watch_follows_new_edited_moved_and_deleted_files(tmp_path: Path, home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "first.md").write_text("# First\n\nOriginal text.\n")
    cli("add", str(notes), check=True)
    settings = load_settings(home)

    def docs() -> set[str]:
        return doc_names(settings)

    with watching(tmp_path, home, notes, settings) as watcher:
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
        # Ctrl-C between syncs (a sync cut short is the next test's subject).
        wait_for(lambda: not running_runs(home), "the last sync finished")
        code = watcher.ctrl_c()
        err = watcher.err()
        out = watcher.stdout.read_text()
    assert code == 0, err
    assert "Stopped watching." in err and "Traceback" not in err
    assert "1 moved" in out


#: Files written at once for a watch sync to be cut short: enough that the sync is
#: still running when Ctrl-C comes, on a quiet machine too.
BATCH = 200


@pytest.mark.slow  # a real process, and a sync long enough to be cut short
def test_ctrl_c_during_a_sync_stops_watch_and_the_next_sync_indexes_every_file(
    tmp_path: Path, home: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "first.md").write_text("# First\n\nThe note that was there before.\n")
    cli("add", str(notes), check=True)
    settings = load_settings(home)

    with watching(tmp_path, home, notes, settings) as watcher:
        batch = notes / "batch"
        batch.mkdir()
        for i in range(BATCH):  # one parser process: seconds of work, cut short below
            (batch / f"note-{i:03}.md").write_text(
                f"# Note {i}\n\n" + f"Paragraph {i} about subject {i * 7 % 13}. " * 20
            )
        wait_for(lambda: files_done_by_running_sync(home) > 0, "the sync started saving files")
        code = watcher.ctrl_c()
        err = watcher.err()

    assert code == 130, err
    assert "Interrupted during a sync" in err and "Traceback" not in err
    interrupted = last_run(home)
    assert interrupted.status == "interrupted"
    # The file being parsed at Ctrl-C is not reported as a crash (workers leave Ctrl-C
    # to the parent), and what the sync did not reach is simply not indexed yet.
    assert not [d.path for d in api.documents(settings) if d.state == "failed"]
    assert len(doc_names(settings)) < BATCH + 1

    cli("sync", check=True)
    docs = api.documents(settings)
    assert len(docs) == BATCH + 1
    assert {d.state for d in docs} == {"indexed"}
    assert [h.path for h in api.search("Paragraph 59", settings).hits][:1] == [
        str(batch / "note-059.md")
    ]


def doc_names(settings: Settings) -> set[str]:
    return {Path(d.path).name for d in api.documents(settings)}


def chunk_texts(home: Path) -> str:
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        return "\n".join(session.scalars(select(Chunk.text)))


def running_runs(home: Path) -> list[int]:
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        return list(session.scalars(select(Run.id).where(Run.status == "running")))


def files_done_by_running_sync(home: Path) -> int:
    """Files the running `watch` sync has saved so far (0 while none runs)."""
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        runs = list(
            session.scalars(select(Run.id).where(Run.status == "running", Run.command == "watch"))
        )
        if not runs:
            return 0
        return len(list(session.scalars(select(RunFile.id).where(RunFile.run_id.in_(runs)))))


def last_run(home: Path) -> Run:
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        run = session.scalars(select(Run).order_by(Run.id.desc()).limit(1)).one()
        session.expunge(run)
        return run

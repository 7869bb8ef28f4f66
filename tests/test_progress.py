"""On a terminal, a run draws a progress bar with counts and time left."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow  # a real process on a pty
def test_progress_bar_on_a_terminal(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(150):
        (root / f"n{i:03}.md").write_text(f"# Note {i}\n\n" + f"sentence number {i}. " * 80)
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="120")
    env.update(MNEMO_HOME=str(home), MNEMO_INGEST__WORKERS="1", MNEMO_EMBEDDING__BACKEND="none")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "add", str(root)], stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    screen = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        screen += data
    assert proc.wait(timeout=120) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert "Indexing" in text and "/150 files" in text and "ETA" in text
    assert "default: 150 indexed" in text

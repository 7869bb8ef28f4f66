"""A parser that kills its process costs one file, not the run.

The crashing parser is a real plugin, registered through the `mnemo.parsers`
entry point exactly as a third-party parser would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemo import api
from mnemo.config import load_settings

PLUGIN = '''
import os

def crash(data, path, limits):
    os._exit(3)  # what a segfault in a native parser looks like from outside

def register(register):
    register(["crash"], "crasher", crash, "application/x-crash")
'''


@pytest.fixture
def crash_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    dist = site / "crashplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "crashplugin.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crashplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mnemo.parsers]\ncrash = crashplugin:register\n")
    monkeypatch.syspath_prepend(str(site))  # spawned workers inherit sys.path


def test_crashing_parser_fails_one_file_and_the_rest_is_indexed(
    tmp_path: Path, home: Path, crash_plugin: None
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(20):
        (root / f"note{i:02}.md").write_text(f"# Note {i}\n\nText of note {i}.\n")
    (root / "evil.crash").write_text("boom")
    settings = load_settings(home, {"ingest": {"workers": 2}})
    report = api.add([root], settings)
    assert report.counts["indexed"] == 20
    assert report.counts["failed"] == 1
    (failed,) = report.failed
    assert failed.path == str(root / "evil.crash")
    assert "parser crashed" in (failed.reason or "")
    states = {Path(d.path).name: d.status for d in api.documents(settings)}
    assert states["evil.crash"] == "failed" and list(states.values()).count("indexed") == 20

    # The crash is remembered: the next sync does not hand the unchanged file to a parser
    # again (a file that kills its parser is tried once per version, not at every sync).
    again = api.sync(settings)
    assert again.counts["unchanged"] == 21 and again.counts["failed"] == 0


def test_a_script_without_a_main_guard_adds_once(tmp_path: Path) -> None:
    """Workers never run the calling program again: the README's few lines, pasted into a
    script without `if __name__ == "__main__":`, index the folder once, with no errors."""
    import subprocess
    import sys

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nText of note {i}.\n")
    script = tmp_path / "index_my_notes.py"
    script.write_text(
        "import mnemo\n"
        f"settings = mnemo.load_settings({str(tmp_path / 'home')!r}, "
        "{'embedding': {'backend': 'none'}})\n"
        f"report = mnemo.add([{str(docs)!r}], settings)\n"
        "print('RUN', report.counts['indexed'], report.counts['failed'])\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["RUN 3 0"]  # printed once: no worker ran it again
    assert "Traceback" not in proc.stderr

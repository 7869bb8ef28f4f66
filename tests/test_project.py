"""The README's Quick start and CI agree, and CI treats 'no tests' as a failure."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "mnemo add" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_quick_start_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert quick_start_commands()[1] in ci
    assert '"$status" -eq 5' in ci


def test_quick_start_demo_folder_has_documents() -> None:
    assert len(list((ROOT / "docs").glob("*.md"))) >= 2

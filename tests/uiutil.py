"""A small indexed library for the web app's tests: Markdown notes, a two-page PDF,
and a file whose name and text hold HTML that must be shown as text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mnemo
from docgen import pdf
from mnemo.config import Settings, load_settings

HOSTILE_NAME = "<script>alert(1)<script>.md"  # no "/": it is a file name
HOSTILE_TEXT = "Ravens hide food. <script>alert('passage')</script> Crows remember faces."
PDF_PAGES = [
    ["Tidal energy report", "Chapter one covers the harbour survey."],
    [
        "The turbine array produced 42 megawatts at peak flow.",
        "Maintenance divers inspected the blades every spring.",
    ],
]


def build(root: Path, **server: Any) -> Settings:
    docs = root / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "notes" / "whales.md").write_text(
        "# Whales\n\nBlue whales are the largest animals ever known to have lived.\n"
    )
    (docs / "notes" / HOSTILE_NAME).write_text(f"# Birds\n\n{HOSTILE_TEXT}\n")
    pdf(docs / "tidal.pdf", PDF_PAGES, title="Tidal energy report")
    (root / "allowed").mkdir()
    settings = load_settings(
        root / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"allowed_roots": [str(root / "allowed")], "rate_limit": 100_000, **server},
        },
    )
    report = mnemo.add([docs], settings)
    assert report.counts["indexed"] == 3, report.to_dict()
    return settings


def csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no form token"
    return found.group(1)

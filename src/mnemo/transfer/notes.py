"""Answers and conversations as Obsidian-compatible Markdown notes, with each citation a
link back to its source: a wikilink for a note inside the vault the note is written
into, a file link (``#page=N`` for PDFs) for anything else."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

_WIKI = re.compile(r"!?\[\[(?:[^\]|]*\|)?([^\]|]*\|)?([^\]]*)\]\]")
_UNSAFE = re.compile(r'[\\/:*?"<>|#^\[\]\n\r\t]+')


def note_file_name(title: str) -> str:
    """A file name Obsidian accepts, from a title."""
    name = _UNSAFE.sub(" ", title).strip().strip(".")[:100].strip()
    return (name or "Mnemo answer") + ".md"


def source_link(source: dict[str, Any], folder: Path) -> str:
    """A link to a cited source, as seen from a note in ``folder``."""
    path = Path(str(source.get("path") or ""))
    page = source.get("page") or source.get("page_start")
    heading = list(source.get("heading_path") or [])
    label = str(source.get("title") or path.name)
    root = _vault(folder) or folder.resolve().parent
    try:
        inside = path.resolve().relative_to(root)
    except ValueError:
        inside = None
    if inside is not None and path.suffix.lower() == ".md":
        target = str(inside.with_suffix("")).replace(os.sep, "/")
        anchor = f"#{heading[-1]}" if heading else ""
        return f"[[{target}{anchor}|{label}]]"
    url = "file://" + quote(str(path.resolve()))
    if page:
        url += f"#page={int(page)}"
    shown = f"{label}, page {page}" if page else label
    return f"[{shown}]({url})"


def _vault(folder: Path) -> Path | None:
    """The Obsidian vault ``folder`` is in (the nearest folder holding ``.obsidian``)."""
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if (parent / ".obsidian").is_dir():
            return parent
    return None


def render_note(
    title: str,
    turns: Iterable[tuple[str, str, str, Sequence[dict[str, Any]]]],
    folder: Path,
    *,
    created: datetime | None = None,
    collection: str = "",
) -> str:
    """A note: front matter, then each (question, answer, kind, sources) with the
    answer's ``[n]`` marks linking to its sources' list."""
    when = (created or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M")
    lines = ["---", f"title: {_yaml(title)}", f"created: {when}", "source: mnemo"]
    if collection:
        lines.append(f"collection: {_yaml(collection)}")
    lines += ["tags: [mnemo]", "---", "", f"# {title}"]
    for question, answer, kind, sources in turns:
        lines += ["", f"## {' '.join(question.split())}", ""]
        if kind == "extractive":
            lines += ["*Extractive answer: sentences quoted from the documents.*", ""]
        elif kind == "abstained":
            lines += ["*Not found in the documents; the nearest passages are listed.*", ""]
        lines.append(re.sub(r"\[(\d+)\]", r"[^\1]", answer.strip()))
        for source in sources:
            number = source.get("number", "?")
            text = _WIKI.sub(r"\2", " ".join(str(source.get("text") or "").split()))[:300]
            quote_ = f" — “{text}”" if text else ""
            lines += ["", f"[^{number}]: {source_link(source, folder)}{quote_}"]
    return "\n".join(lines) + "\n"


def _yaml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_note(folder: Path, title: str, text: str) -> Path:
    """Write ``text`` as a new note in ``folder`` (never over an existing file)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / note_file_name(title)
    n = 1
    while path.exists():
        n += 1
        path = folder / note_file_name(f"{title} {n}")
    path.write_text(text, encoding="utf-8")
    return path


def passage_source(passage: Any) -> dict[str, Any]:
    """A retrieval ContextPassage as the source dict notes use."""
    return {
        "number": passage.number,
        "path": passage.path,
        "title": passage.title,
        "page": passage.page_start,
        "heading_path": list(passage.heading_path),
        "text": passage.text,
    }

"""Markdown and Obsidian notes: front matter, heading hierarchy, wikilinks, tags."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt

from mnemo.ingest.parsers.base import ParsedDocument, ParseLimits, Section
from mnemo.ingest.parsers.text import decode_text

name = "markdown"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_WIKILINK = re.compile(r"(!?)\[\[([^\[\]|#^\n]*)(?:[#^][^\[\]|\n]*)?(?:\|[^\[\]\n]*)?\]\]")
# Obsidian tags: '#' then letters, digits, '_', '-', '/', with at least one non-digit.
_TAG = re.compile(r"(?<![\w/#&'\"`])#([\w/-]*[^\W\d][\w/-]*)")
_INLINE_CODE = re.compile(r"(`+)[^`].*?\1", re.DOTALL)
# The target of an inline link, `[text](#anchor)`: an address, not a tag.
_LINK_TARGET = re.compile(r"\]\([^)\n]*\)")
# A wikilink in full: target, then '#heading' or '#^block', then '|alias'.
_WIKILINK_FULL = re.compile(r"(!?)\[\[([^\[\]|#^\n]*)(?:#([^\[\]|\n]*))?(?:\|[^\[\]\n]*)?\]\]")
# An inline Markdown link or image to a file: `[text](Other%20note.md#heading)`.
_MD_LINK = re.compile(r"(!?)\[[^\]\n]*\]\(<?([^)\s>]+)>?(?:\s+[\"'][^\n]*?[\"'])?\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Link references kept per note (a generated note can hold any number).
_MAX_LINK_REFS = 5_000
# More values than any note's front matter holds: YAML aliases can make a few
# lines expand to billions of them.
_MAX_FRONT_MATTER_VALUES = 10_000

_md = MarkdownIt("commonmark").enable("table")


class _TooLarge(Exception):
    pass


def _plain(value: Any, budget: list[int]) -> Any:
    """Front matter as JSON-safe values (YAML dates become ISO strings).

    ``budget`` counts down the values still allowed; _TooLarge when spent.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(value, dict):
        return {str(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def split_front_matter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """Return (front matter, body, problem). A broken block stays in the body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, None
    try:
        data = yaml.safe_load(match.group(1) or "") or {}
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date like 2024-02-30
        return {}, text, f"front matter is not valid YAML ({str(exc).splitlines()[0]})"
    except RecursionError:
        return {}, text, "front matter is nested too deeply"
    if not isinstance(data, dict):
        return {}, text, "front matter is not a mapping"
    try:
        return _plain(data, [_MAX_FRONT_MATTER_VALUES]), text[match.end() :], None
    except (_TooLarge, RecursionError):
        limit = f"{_MAX_FRONT_MATTER_VALUES:,}"
        return {}, text, f"front matter is too large (over {limit} values) or nested too deeply"


def _front_matter_tags(front: dict[str, Any]) -> list[str]:
    raw = front.get("tags", front.get("tag"))
    if isinstance(raw, str):
        raw = re.split(r"[,\s]+", raw)
    if not isinstance(raw, list):
        return []
    return [str(t).lstrip("#") for t in raw if str(t).strip("# ")]


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for match in re.finditer("\n", text):
        offsets.append(match.end())
    offsets.append(len(text))
    return offsets


def markdown_document(
    text: str, *, title: str | None = None, metadata: dict[str, Any] | None = None
) -> ParsedDocument:
    """Sections, wikilinks and tags of Markdown text."""
    tokens = _md.parse(text)
    lines = _line_offsets(text)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    start = 0
    first_h1: str | None = None
    code_spans: list[tuple[int, int]] = []
    for index, token in enumerate(tokens):
        if token.type in ("fence", "code_block", "html_block") and token.map:
            code_spans.append((lines[token.map[0]], lines[min(token.map[1], len(lines) - 1)]))
        if token.type != "heading_open" or not token.map:
            continue
        level = int(token.tag[1])
        heading = " ".join(tokens[index + 1].content.split())
        offset = lines[token.map[0]]
        if offset > start and text[start:offset].strip():
            sections.append(Section(tuple(h for _, h in stack), start, offset))
        start = offset
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        if level == 1 and first_h1 is None:
            first_h1 = heading
    if text[start:].strip():
        sections.append(Section(tuple(h for _, h in stack), start, len(text)))

    prose = _blank(text, code_spans)
    prose = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), prose)
    refs = _link_refs(prose)
    prose = _LINK_TARGET.sub("] ", prose)
    links: list[str] = []
    embeds: list[str] = []
    for match in _WIKILINK.finditer(prose):
        target = match.group(2).strip()
        if target:
            (embeds if match.group(1) else links).append(target)
    meta = dict(metadata or {})
    tags = _front_matter_tags(meta.get("front_matter", {}))
    tags += [m.group(1) for m in _TAG.finditer(_WIKILINK.sub(" ", prose))]
    if tags:
        meta["tags"] = sorted(set(tags), key=tags.index)
    if links:
        meta["links"] = sorted(set(links), key=links.index)
    if embeds:
        meta["embeds"] = sorted(set(embeds), key=embeds.index)
    if refs:
        meta["link_refs"] = refs
    return ParsedDocument(
        text=text,
        sections=sections,
        title=title or first_h1,
        markup="markdown",
        metadata=meta,
    )


def _link_refs(prose: str) -> list[dict[str, Any]]:
    """Every link to another note or file, as written: ``{"target", "anchor", "embed",
    "origin"}`` (wikilinks with their heading or block reference, Markdown links to
    files; web addresses and links inside the same note are left out)."""
    refs: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None, bool]] = set()

    def keep(target: str, anchor: str | None, embed: bool, origin: str) -> None:
        key = (target, anchor, embed)
        if target and key not in seen and len(refs) < _MAX_LINK_REFS:
            seen.add(key)
            refs.append({"target": target, "anchor": anchor, "embed": embed, "origin": origin})

    for match in _WIKILINK_FULL.finditer(prose):
        anchor = (match.group(3) or "").strip() or None
        keep(match.group(2).strip(), anchor, bool(match.group(1)), "wikilink")
    for match in _MD_LINK.finditer(prose):
        raw = match.group(2)
        if _SCHEME.match(raw) or raw.startswith("#"):
            continue
        path, _, anchor = raw.partition("#")
        keep(unquote(path).strip(), unquote(anchor).strip() or None, bool(match.group(1)), "markdown")
    return refs


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    text, encoding = decode_text(data)
    front, body, problem = split_front_matter(text)
    metadata: dict[str, Any] = {"encoding": encoding}
    if front:
        metadata["front_matter"] = front
    if problem:
        metadata["warning"] = problem
    title = front.get("title") if isinstance(front.get("title"), str) else None
    return markdown_document(body, title=title, metadata=metadata)

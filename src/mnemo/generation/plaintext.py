"""Markdown as the plain text a reader sees: blocks of prose, markup gone.

Every parser hands the chunker Markdown-flavoured text (``# headings``, lists,
tables), and notes carry Obsidian syntax on top. A quoted sentence should read
as prose, so passages are parsed with markdown-it-py (CommonMark, tables on)
and their inline text kept: ``**bold**`` and ``_emphasis_`` lose their marks,
links keep their text, inline code keeps its content, images and raw HTML go.
``[[wikilinks]]`` (not CommonMark) become their alias or target first,
``![[embeds]]`` and footnote marks go. Headings come back as their own blocks
so that callers can skip them; code blocks, tables and HTML blocks are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

BlockKind = Literal["heading", "text", "item"]

_EMBED = re.compile(r"!\[\[[^\]\n]*\]\]")
_WIKILINK = re.compile(r"\[\[([^\]|\n#]*)(?:#[^\]|\n]*)?(?:\|([^\]\n]*))?\]\]")
_FOOTNOTE = re.compile(r"\[\^[^\]\s]+\]")
_HIGHLIGHT = re.compile(r"==(\S(?:[^=\n]*\S)?)==")
_SKIPPED = {"fence", "code_block", "html_block", "table_open", "hr"}


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str  # plain text, whitespace collapsed
    #: For a list item: the sentence that introduces the list when it ends with a colon
    #: ("`mnemo sync` looks at every source again:"), which an item needs to be read alone.
    lead: str = ""
    #: The inline code spans of the block (and of its lead), as they read in ``text``: a
    #: sentence that opens with one ("`mnemo sync` looks at ...") opens with a term.
    code: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _obsidian(text: str) -> str:
    text = _EMBED.sub("", text)
    text = _WIKILINK.sub(lambda m: (m.group(2) or m.group(1)).strip(), text)
    text = _FOOTNOTE.sub("", text)
    return _HIGHLIGHT.sub(r"\1", text)


def _inline(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _code(token: Token) -> tuple[str, ...]:
    spans = (" ".join(c.content.split()) for c in token.children or [] if c.type == "code_inline")
    return tuple(span for span in spans if span)


def blocks(markdown: str) -> list[Block]:
    """The headings and prose blocks (paragraphs, list items, quotes) of ``markdown``."""
    tokens = _parser().parse(_obsidian(markdown))
    out: list[Block] = []
    skip_until: str | None = None
    in_heading = False
    leads: list[tuple[str, tuple[str, ...]]] = []  # per open list: the colon-ended text
    # before it (or ""), and its code spans
    for token in tokens:
        if skip_until is not None:
            if token.type == skip_until:
                skip_until = None
            continue
        if token.type in _SKIPPED:
            if token.type == "table_open":
                skip_until = "table_close"
            continue
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            before = out[-1] if out and out[-1].kind != "heading" else Block("text", "")
            lead = _last_sentence(before.text) if before.text.endswith(":") else ""
            leads.append((lead, before.code if lead else ()))
        elif token.type in ("bullet_list_close", "ordered_list_close") and leads:
            leads.pop()
        elif token.type == "inline":
            text = _inline(token)
            if not text:
                continue
            if in_heading:
                out.append(Block("heading", text))
            elif leads:
                lead, code = leads[-1]
                out.append(Block("item", text, lead, _code(token) + code))
            else:
                out.append(Block("text", text, code=_code(token)))
    return out


def _last_sentence(text: str) -> str:
    """The end of ``text`` from its last sentence break (". ", "! ", "? ")."""
    found = max(text.rfind(mark) for mark in (". ", "! ", "? "))
    return text[found + 2 :] if found >= 0 else text


def plain(markdown: str) -> str:
    """``markdown`` as plain text: its blocks, one paragraph each."""
    return "\n\n".join(b.text for b in blocks(markdown))

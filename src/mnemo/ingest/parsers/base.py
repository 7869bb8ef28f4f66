"""What every parser produces, and how it says a file cannot be used.

A parser turns a file's bytes into a :class:`ParsedDocument`: the document's
text, its title, the sections that split the text along its structure (each
with its heading path) and, for formats with pages, the page each stretch of
text came from. All positions are character offsets into ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# What a parser produces lives below chunking, which reads it; parsers import it from here.
from mnemo.chunking.document import Markup, Page, ParsedDocument, Section

__all__ = [
    "DocumentBuilder",
    "Markup",
    "Page",
    "ParseFailed",
    "ParseLimits",
    "ParseSkipped",
    "ParsedDocument",
    "Parser",
    "Section",
    "text_too_large",
]


class ParseSkipped(Exception):
    """The file holds nothing to index (empty, binary, no text layer, over a limit)."""


class ParseFailed(Exception):
    """The file should hold text but cannot be read (corrupt, encrypted, wrong format)."""


@dataclass(frozen=True)
class ParseLimits:
    """Budgets a parser checks as it goes, so a hostile file stops early with a reason."""

    max_pages: int
    max_inflated_bytes: int = 256_000_000  # a package's parts, or one PDF stream, inflated
    max_compression_ratio: float = 100.0  # of a large zip member
    max_text_chars: int = 25_000_000  # extracted text


def text_too_large(size: int, limit: int) -> ParseSkipped:
    return ParseSkipped(
        f"extracted text is over {limit / 1_000_000:,.1f} MB "
        f"({size / 1_000_000:,.1f} MB so far; raise ingest.max_text_mb to index it)"
    )


class Parser(Protocol):
    """A format's parser: one module, registered for its file extensions."""

    name: str

    def __call__(self, data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument: ...


class DocumentBuilder:
    """Assembles Markdown-flavoured text block by block, tracking sections and pages.

    Used by parsers whose source is not itself the text (DOCX, HTML, PDF).
    """

    def __init__(self, max_chars: int | None = None) -> None:
        self._max_chars = max_chars
        self._parts: list[str] = []
        self._length = 0
        self._headings: list[tuple[int, str]] = []
        self._sections: list[Section] = []
        self._section_start = 0
        self._pages: list[Page] = []
        self._page: tuple[int, int] | None = None

    def _append(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)
        if self._max_chars is not None and self._length > self._max_chars:
            raise text_too_large(self._length, self._max_chars)

    def _close_section(self) -> None:
        if self._length > self._section_start:
            path = tuple(title for _, title in self._headings)
            self._sections.append(Section(path, self._section_start, self._length))
        self._section_start = self._length

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self._close_section()
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        self._headings.append((level, title))
        self._append(f"{'#' * min(level, 6)} {title}\n\n")

    def block(self, text: str) -> None:
        text = text.strip()
        if text:
            self._append(text + "\n\n")

    def start_page(self, number: int) -> None:
        self._end_page()
        self._page = (number, self._length)

    def _end_page(self) -> None:
        if self._page is not None:
            number, start = self._page
            self._pages.append(Page(number, start, self._length))
            self._page = None

    def build(self, **kwargs: Any) -> ParsedDocument:
        self._end_page()
        self._close_section()
        return ParsedDocument(
            text="".join(self._parts),
            sections=self._sections,
            pages=self._pages or None,
            **kwargs,
        )

"""What every parser produces, and how it says a file cannot be used.

A parser turns a file's bytes into a :class:`ParsedDocument`: the document's
text, its title, the sections that split the text along its structure (each
with its heading path) and, for formats with pages, the page each stretch of
text came from. All positions are character offsets into ``text``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# What a parser produces lives below chunking, which reads it; parsers import it from here.
from mnemo.chunking.document import Attachment, Markup, Page, ParsedDocument, Section

__all__ = [
    "Attachment",
    "DocumentBuilder",
    "Markup",
    "OcrOptions",
    "Page",
    "ParseFailed",
    "ParseLimits",
    "ParseRetry",
    "ParseSkipped",
    "ParsedDocument",
    "Parser",
    "Section",
    "TranscriptionOptions",
    "need_time",
    "text_too_large",
]


class ParseSkipped(Exception):
    """The file holds nothing to index (empty, binary, no text layer, over a limit)."""


class ParseFailed(Exception):
    """The file should hold text but cannot be read (corrupt, encrypted, wrong format)."""


class ParseRetry(ParseFailed):
    """A service the parser needs is unreachable now; the next sync tries the file again."""


@dataclass(frozen=True)
class OcrOptions:
    """How scanned pages and images are read (the ``ocr`` settings)."""

    enabled: bool = True
    languages: str = "eng"  # Tesseract's form: "eng+deu"
    dpi: int = 300
    page_seconds: float = 60.0
    tesseract: str = "tesseract"  # the binary: a name on PATH or a path
    cache_dir: Path | None = None  # results by page content hash; None: no cache


@dataclass(frozen=True)
class TranscriptionOptions:
    """Where audio is sent to be transcribed (the ``transcription`` settings)."""

    base_url: str | None = None  # None: no engine configured
    model: str = "whisper-1"
    api_key: str | None = None
    timeout: float = 600.0
    ffmpeg: str = "ffmpeg"


@dataclass(frozen=True)
class ParseLimits:
    """Budgets a parser checks as it goes, so a hostile file stops early with a reason;
    and the options of the slow readers (OCR, transcription)."""

    max_pages: int
    max_inflated_bytes: int = 256_000_000  # a package's parts, or one PDF stream, inflated
    max_compression_ratio: float = 100.0  # of a large zip member
    max_text_chars: int = 25_000_000  # extracted text
    ocr: OcrOptions = OcrOptions(enabled=False)
    transcription: TranscriptionOptions = TranscriptionOptions()


_time_reporter: Callable[[float], None] | None = None


def report_time_to(reporter: Callable[[float], None] | None) -> None:
    """Called by the worker process: where :func:`need_time` requests go."""
    global _time_reporter
    _time_reporter = reporter


def need_time(seconds: float) -> None:
    """Ask for ``seconds`` more than the file's time budget, before a step that may take
    that long (OCR of one page, transcription of one file); its own limit bounds the step."""
    if _time_reporter is not None:
        _time_reporter(seconds)


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

    @property
    def length(self) -> int:
        """Characters so far: where the next block's text will start."""
        return self._length

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

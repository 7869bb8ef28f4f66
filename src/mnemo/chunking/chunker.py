"""Split parsed documents into token-bounded chunks along their structure.

Each section is chunked on its own, so no chunk spans two sections. Inside a
section, `semantic-text-splitter` fills chunks up to ``max_tokens`` (counted
with the embedder's tokenizer) preferring, in order, Markdown blocks or
paragraphs, then lines, sentences, words and finally characters, and lets
consecutive chunks share up to ``overlap_tokens``.

The splitter's time grows faster than linearly with the length of the text it
is given when that text lacks paragraph or line breaks (a one-line 400 kB text
took 8 s, 100 kB 1.5 s). So a long section is first cut into windows of at most
``WINDOW`` characters, each ending at the last paragraph break, else line
break, sentence end or space in its second half, and the splitter runs on one
window at a time: time linear in the length, chunks never crossing a window.

A Markdown table (a header row, a ``| --- |`` row, then rows; PDF tables are
written so) is chunked apart from the prose around it: whole if it fits, else
cut between rows, each chunk after the first starting with the header (and
the caption right above the table, "Table 2: ...") again, so a chunk of a long
table still says what its columns are.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from mnemo.chunking.document import ParsedDocument
from mnemo.chunking.tokenizer import default_tokenizer_path, load_tokenizer

#: Bump when parsing or chunking changes what a file yields, so sync re-chunks.
PIPELINE_VERSION = "5"  # 5: PDF tables as Markdown tables, kept with their header
#: Longest text handed to the splitter at once (characters).
WINDOW = 32_000
_BREAKS = ("\n\n", "\n", ". ", " ")


@dataclass(frozen=True)
class ChunkDraft:
    ordinal: int
    text: str
    text_hash: str
    heading_path: tuple[str, ...]
    char_start: int
    char_end: int
    page_start: int | None
    page_end: int | None
    token_count: int


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def chunk_id(document_id: str, chunk_text_hash: str, occurrence: int) -> str:
    """Deterministic id: the same text in the same document keeps its id.

    ``occurrence`` counts earlier chunks of the document with identical text, so
    an edit elsewhere in the document does not change this chunk's id.
    """
    key = f"{document_id}\x1f{chunk_text_hash}\x1f{occurrence}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Chunker:
    def __init__(
        self, max_tokens: int, overlap_tokens: int, tokenizer_path: Path | None = None
    ) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.tokenizer_path = tokenizer_path or default_tokenizer_path()
        self.tokenizer = load_tokenizer(self.tokenizer_path)

    @cached_property
    def _splitters(self) -> dict[str, object]:
        from semantic_text_splitter import MarkdownSplitter, TextSplitter

        args = (self.tokenizer, self.max_tokens, self.overlap_tokens)
        return {
            "markdown": MarkdownSplitter.from_huggingface_tokenizer(*args),
            "text": TextSplitter.from_huggingface_tokenizer(*args),
        }

    @cached_property
    def key(self) -> str:
        """Identifies everything that decides a file's chunks."""
        digest = hashlib.sha256(self.tokenizer_path.read_bytes()).hexdigest()[:16]
        raw = f"{PIPELINE_VERSION}|{digest}|{self.max_tokens}|{self.overlap_tokens}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def chunk(self, document: ParsedDocument, max_chunks: int | None = None) -> list[ChunkDraft]:
        """The document's chunks; with ``max_chunks``, stop once there are more than that."""
        splitter = self._splitters[document.markup]
        spans: list[tuple[int, int, tuple[str, ...]]] = []
        # A table's chunk after its first repeats the header: its text is not the slice.
        header_of: dict[int, str] = {}
        for section in document.sections:
            for begin, end, is_table in table_segments(document.text, section.start, section.end):
                if is_table:
                    for start, stop, header in self._table_chunks(document.text, begin, end):
                        if header:
                            header_of[len(spans)] = header
                        spans.append((start, stop, section.heading_path))
                    continue
                for w_begin, w_end in windows(document.text, begin, end):
                    body = document.text[w_begin:w_end]
                    for offset, piece in splitter.chunk_indices(body):  # type: ignore[attr-defined]
                        start = w_begin + offset
                        spans.append((start, start + len(piece), section.heading_path))
                    if max_chunks is not None and len(spans) > max_chunks:
                        break
                if max_chunks is not None and len(spans) > max_chunks:
                    break
            if max_chunks is not None and len(spans) > max_chunks:
                del spans[max_chunks + 1 :]
                break
        texts = [
            header_of.get(n, "") + document.text[start:end]
            for n, (start, end, _) in enumerate(spans)
        ]
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        page_starts = [p.start for p in document.pages or []]
        drafts = []
        for ordinal, ((start, end, heading), piece, encoding) in enumerate(
            zip(spans, texts, encodings, strict=True)
        ):
            first, last = self._page_span(document, page_starts, start, end)
            drafts.append(
                ChunkDraft(
                    ordinal=ordinal,
                    text=piece,
                    text_hash=text_hash(piece),
                    heading_path=heading,
                    char_start=start,
                    char_end=end,
                    page_start=first,
                    page_end=last,
                    token_count=len(encoding.ids),
                )
            )
        return drafts

    def _table_chunks(self, text: str, begin: int, end: int) -> list[tuple[int, int, str]]:
        """A Markdown table cut into chunks of whole rows, each after the first with
        the header (its first two lines) repeated: (start, end, header to put first)."""
        if len(self.tokenizer.encode(text[begin:end], add_special_tokens=False).ids) <= (
            self.max_tokens
        ):
            return [(begin, end, "")]
        lines, position = [], begin
        for line in text[begin:end].split("\n"):
            lines.append((position, position + len(line)))
            position += len(line) + 1
        # The header is the caption (if any) and the table's first two lines.
        first = next(n for n, (a, _) in enumerate(lines) if text[a:].lstrip(" \t").startswith("|"))
        header_end = lines[first + 1][1]
        header = text[begin:header_end] + "\n"
        rows = lines[first + 2 :]
        sizes = [
            len(e.ids)
            for e in self.tokenizer.encode_batch(
                [text[a:b] for a, b in rows], add_special_tokens=False
            )
        ]
        budget = self.max_tokens - len(self.tokenizer.encode(header, add_special_tokens=False).ids)
        chunks: list[tuple[int, int, str]] = []
        start, used, previous_end = begin, 0, header_end
        for (row_start, row_end), size in zip(rows, sizes, strict=True):
            if used and used + size + 1 > budget:
                chunks.append((start, previous_end, "" if start == begin else header))
                start, used = row_start, 0
            used += size + 1
            previous_end = row_end
        if rows:
            chunks.append((start, previous_end, "" if start == begin else header))
        return chunks or [(begin, end, "")]

    @staticmethod
    def _page_span(
        document: ParsedDocument, page_starts: list[int], start: int, end: int
    ) -> tuple[int | None, int | None]:
        pages = document.pages
        if not pages:
            return None, None
        # Pages whose text overlaps [start, end); text between pages (a heading
        # taken from the outline) belongs to the page that follows it.
        lo = max(bisect.bisect_right(page_starts, start) - 1, 0)
        if pages[lo].end <= start and lo + 1 < len(pages):
            lo += 1
        hi = max(bisect.bisect_left(page_starts, end) - 1, lo)
        return pages[lo].number, pages[hi].number


#: A Markdown table: a header row, a delimiter row (``| --- |``), then rows; each line
#: starts with ``|`` (leading spaces allowed).
_TABLE = re.compile(
    r"^[ \t]*\|.*\n[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*(?:\n[ \t]*\|.*)*", re.MULTILINE
)


#: A table's caption: a short line right above it that names a table.
_CAPTION = re.compile(r"(?:table|tab\.)\s*[\w.:-]", re.IGNORECASE)
MAX_CAPTION = 300


def _caption_start(text: str, start: int, table: int) -> int:
    """Where the table's caption starts (the line before it, if it names a table and is
    short), else ``table``: the caption goes with the table."""
    before = text[start:table].rstrip()
    if not before:
        return table
    line = before.rfind("\n") + 1
    caption = before[line:].strip()
    if 0 < len(caption) <= MAX_CAPTION and _CAPTION.match(caption):
        return start + line + (len(before[line:]) - len(before[line:].lstrip()))
    return table


def table_segments(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """``text[start:end]`` cut into stretches of prose and Markdown tables (each with
    its caption, "Table 2: ...", when one is right above it), in order:
    (start, end, is it a table)."""
    segments = []
    for match in _TABLE.finditer(text, start, end):
        begin = _caption_start(text, start, match.start())
        if begin > start:
            segments.append((start, begin, False))
        segments.append((begin, match.end(), True))
        start = match.end()
    if end > start:
        segments.append((start, end, False))
    return segments


def windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into spans of at most WINDOW characters at natural breaks."""
    spans = []
    while end - start > WINDOW:
        limit = start + WINDOW
        cut = limit
        for mark in _BREAKS:
            found = text.rfind(mark, start + WINDOW // 2, limit)
            if found != -1:
                cut = found + len(mark)
                break
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans

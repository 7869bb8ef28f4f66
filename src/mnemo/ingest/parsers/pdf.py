"""PDF: text page by page (pdfium), page numbers kept, bookmarks as headings.

Each page's hard-wrapped lines are joined into paragraphs
(:mod:`mnemo.ingest.parsers.pdf_lines`) before the chunker sees them. A page
with no text layer, or a garbage one, is rendered and read by OCR
(:mod:`mnemo.ingest.parsers.pdf_ocr`); the other pages keep their own text.
Tables found on a page become Markdown tables in its text
(:mod:`mnemo.ingest.parsers.pdf_tables`), which the chunker keeps with their header.
"""

from __future__ import annotations

import re
from pathlib import Path

from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)
from mnemo.ingest.parsers.pdf_lines import join_lines
from mnemo.ingest.parsers.pdf_ocr import PageReader
from mnemo.ingest.parsers.pdf_streams import check_streams
from mnemo.ingest.parsers.pdf_tables import find as find_tables
from mnemo.ingest.parsers.pdf_tables import likely as likely_table
from mnemo.ingest.parsers.pdf_tables import page_text as table_page_text
from mnemo.ingest.parsers.pdf_tables import split_caption

name = "pdf"

# A word hyphenated at a line end ("conti-" / "nued"); "COVID-" / "19" keeps its hyphen.
_HYPHEN_BREAK = re.compile(r"(\w)-\n([a-z])")
# PDFium glues a word hyphenated at a line end itself and puts \x02 (or U+FFFE)
# where the hyphen was: dropped inside a word, kept in a compound or before a
# digit or capital ("state-of-the\x02art", "COVID\x0219").
_SOFT_HYPHEN = re.compile(r"([\w-]*)[\x02\ufffe]\n?(\w?)")
# What PDF writers put in the Title field when nobody gave one (reportlab: "untitled").
_PLACEHOLDER_TITLES = {"untitled", "untitled document", "no title"}


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _SOFT_HYPHEN.sub(_soft_hyphen, text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _soft_hyphen(match: re.Match[str]) -> str:
    before, after = match.group(1), match.group(2)
    hyphen = "-" if after and ("-" in before or not after.islower()) else ""
    return before + hyphen + after


def _open(data: bytes) -> object:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise ParseFailed(
                "encrypted PDF (a password is needed to read it); "
                "save an unencrypted copy, e.g. `qpdf --decrypt in.pdf out.pdf`"
            ) from exc
        raise ParseFailed(f"corrupt or truncated PDF ({exc}); re-download or re-export it") from exc


def _outline(pdf: object) -> tuple[dict[int, list[tuple[int, str]]], str | None]:
    """Bookmarks by 0-based page index, as (level, title); and a warning, if unreadable."""
    by_page: dict[int, list[tuple[int, str]]] = {}
    try:
        for bookmark in pdf.get_toc(max_depth=6):  # type: ignore[attr-defined]
            destination = bookmark.get_dest()
            page = destination.get_index() if destination is not None else None
            title = " ".join((bookmark.get_title() or "").split())
            if page is not None and title:
                by_page.setdefault(page, []).append((bookmark.level + 1, title))
    except Exception as exc:  # a damaged outline must not cost the text
        return {}, f"outline (bookmarks) unreadable: {exc}"
    return by_page, None


def _title(metadata: dict[str, str], outline: dict[int, list[tuple[int, str]]], path: Path) -> str:
    """The title every hit shows: the PDF's own (metadata) title, else its first heading
    (bookmark), else the file name."""
    title = " ".join((metadata.get("Title") or "").split())
    if title and title.lower() not in _PLACEHOLDER_TITLES:
        return title
    for page in sorted(outline):
        for _, heading in outline[page]:
            return heading
    return path.name


def _with_tables(textpage: object, text: str) -> list[tuple[str, bool]] | None:
    """The page's text cut around its tables (Markdown), if it likely holds one and
    one is found; else None. ``text``: PDFium's page text as it gave it."""
    windows = likely_table(text)
    if not windows:
        return None
    try:
        tables = find_tables(textpage, windows)
        return table_page_text(textpage, tables) if tables else None
    except Exception:  # odd boxes must not cost the page: its text is kept as it is
        return None


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    check_streams(data, limits)
    pdf = _open(data)
    try:
        count = len(pdf)  # type: ignore[arg-type]
        if count > limits.max_pages:
            raise ParseSkipped(
                f"PDF has {count:,} pages, over the limit of {limits.max_pages:,} "
                "(raise ingest.max_pages to index it)"
            )
        outline, outline_problem = _outline(pdf)
        builder = DocumentBuilder(limits.max_text_chars)
        reader = PageReader(limits.ocr)
        pages_with_text = tables = 0
        for index in range(count):
            builder.start_page(index + 1)  # a bookmark's heading belongs to its page
            for level, title in outline.get(index, []):
                builder.heading(level, title)
            page = pdf[index]  # type: ignore[index]
            try:
                textpage = page.get_textpage()
                own = textpage.get_text_bounded()
                text = join_lines(_clean(own))
                parts = _with_tables(textpage, own)
                textpage.close()
                ocr = reader.read(page, index + 1, text)
            finally:
                page.close()
            if ocr is not None:
                pages_with_text += 1
                reader.placed(index + 1, builder.length, ocr)
                builder.block(ocr.text)
            elif parts is not None:
                pages_with_text += 1
                tables += sum(1 for _, is_table in parts if is_table)
                for number, (part, is_table) in enumerate(parts):
                    if is_table:
                        builder.block(part)
                        continue
                    caption = ""
                    if number + 1 < len(parts):  # a table follows: its caption goes with it
                        part, caption = split_caption(part)
                    builder.block(join_lines(_clean(part)))
                    builder.block(caption)
            elif text.strip():
                pages_with_text += 1
                builder.block(text)
        metadata = pdf.get_metadata_dict(skip_empty=True)  # type: ignore[attr-defined]
    finally:
        pdf.close()  # type: ignore[attr-defined]
    if count == 0:
        raise ParseFailed("PDF has no pages")
    if pages_with_text == 0:
        raise ParseSkipped(reader.why_no_text(count))
    parsed = builder.build(title=_title(metadata, outline, path), markup="text", metadata={})
    parsed.metadata["pages"] = count
    parsed.metadata.update(reader.metadata())
    if tables:
        parsed.metadata["tables"] = tables
    if outline_problem:
        parsed.metadata["warning"] = outline_problem
    if pages_with_text < count:
        parsed.metadata["pages_without_text"] = count - pages_with_text
    return parsed

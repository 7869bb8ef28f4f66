"""Word documents: headings, paragraphs, lists, and tables as Markdown tables."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from mnemo.ingest.parsers.archive import check_package
from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)

name = "docx"


def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 1
    if style_name.startswith("Heading"):
        digits = style_name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _list_prefix(paragraph: object, style: str) -> str | None:
    ppr = paragraph._p.pPr  # type: ignore[attr-defined]
    numbered = ppr is not None and ppr.numPr is not None
    if style.startswith("List Number"):
        return "1. "
    if style.startswith("List") or numbered:
        level = 0
        if numbered and ppr.numPr.ilvl is not None:
            level = int(ppr.numPr.ilvl.val)
        return "  " * level + "- "
    return None


def _cell_text(cell: object) -> str:
    """A cell's paragraphs, and the cells of tables nested in it, as one line."""
    from docx.table import Table

    parts = []
    for item in cell.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Table):
            parts += [_cell_text(c) for row in item.rows for c in row.cells]
        else:
            parts.append(item.text)
    return " ".join(" ".join(parts).split()).replace("|", "\\|")


def _table_markdown(table: object) -> str:
    rows = [[_cell_text(c) for c in row.cells] for row in table.rows]  # type: ignore[attr-defined]
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _blocks(element: object, parent: object) -> Iterator[object]:
    """Paragraphs and tables in body order, including those inside content controls."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():  # type: ignore[attr-defined]
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)  # type: ignore[arg-type]
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)  # type: ignore[arg-type]
        elif child.tag == qn("w:sdt"):  # a content control: cover pages, forms, abstracts
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _blocks(content, parent)


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_package(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ParseFailed(
                "not a valid Word (.docx) file: not a zip package at all (an old .doc, or "
                "another kind of file renamed?); open it and save it as .docx"
            ) from exc
        raise ParseFailed(
            "not a valid Word (.docx) file: the zip holds no Word document; "
            "re-save it from Word or LibreOffice"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # lxml and zip errors on damaged packages
        if "memory allocation failed" in str(exc).lower():  # libxml2 hit the memory limit
            raise MemoryError(str(exc)) from exc
        raise ParseFailed(f"damaged Word (.docx) file ({type(exc).__name__}: {exc})") from exc

    builder = DocumentBuilder(limits.max_text_chars)
    title = (document.core_properties.title or "").strip() or None
    # python-docx resolves each paragraph's style by scanning all styles; one
    # lookup table per document makes long documents an order faster.
    style_names = {style.style_id: style.name or "" for style in document.styles}
    default_style = getattr(document.styles.default(WD_STYLE_TYPE.PARAGRAPH), "name", "") or ""
    list_items: list[str] = []

    def flush_list() -> None:
        if list_items:
            builder.block("\n".join(list_items))
            list_items.clear()

    for item in _blocks(document.element.body, document._body):
        if isinstance(item, Table):
            flush_list()
            builder.block(_table_markdown(item))
            continue
        assert isinstance(item, Paragraph)
        text = item.text.strip()
        if not text:
            continue
        style_id = item._p.style
        style = style_names.get(style_id, "") if style_id else default_style
        level = _heading_level(style)
        if level is not None:
            flush_list()
            builder.heading(level, text)
            if title is None:
                title = " ".join(text.split())
            continue
        prefix = _list_prefix(item, style)
        if prefix is not None:
            list_items.append(prefix + text)
            continue
        flush_list()
        builder.block(text)
    flush_list()
    parsed = builder.build(title=title, markup="markdown")
    if not parsed.text.strip():
        raise ParseSkipped("no text in the Word document")
    return parsed

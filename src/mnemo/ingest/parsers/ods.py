"""OpenDocument spreadsheets (.ods) through odfpy: each sheet a section, rows with headers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.archive import check_package
from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)
from mnemo.ingest.parsers.tables import MAX_ROWS, add_sheet

name = "ods"
MEDIA_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
#: A row or cell repeated more than this is an empty fill to the sheet's edge.
_MAX_REPEAT = 1000


def _text(node: Any) -> str:
    """A cell's text: its paragraphs joined by spaces (odfpy's str() runs them together)."""
    from odf.text import P

    return " ".join(str(p) for p in node.getElementsByType(P))


def _rows(table: Any) -> Iterator[list[str]]:
    from odf.table import TableCell, TableRow

    for row in table.getElementsByType(TableRow):
        cells: list[str] = []
        for cell in row.getElementsByType(TableCell):
            value = _text(cell)
            repeat = int(cell.getAttribute("numbercolumnsrepeated") or 1)
            cells.extend([value] * (min(repeat, _MAX_REPEAT) if value else min(repeat, 1)))
        if not any(cells):
            continue
        repeat = int(row.getAttribute("numberrowsrepeated") or 1)
        for _ in range(min(repeat, MAX_ROWS)):
            yield cells


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    from odf.opendocument import load
    from odf.table import Table

    check_package(data, limits)
    try:
        document = load(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ParseFailed(
            f"not a valid OpenDocument spreadsheet (.ods) ({exc}); re-save it from LibreOffice"
        ) from exc
    except Exception as exc:  # expat and odfpy errors on damaged XML
        raise ParseFailed(
            f"damaged OpenDocument spreadsheet ({type(exc).__name__}: {exc})"
        ) from exc
    builder = DocumentBuilder(limits.max_text_chars)
    rows = 0
    sheets = document.spreadsheet.getElementsByType(Table)
    for table in sheets:
        rows += add_sheet(builder, table.getAttribute("name"), _rows(table))
    parsed = builder.build(title=path.name, markup="text", metadata={"sheets": len(sheets)})
    if not parsed.text.strip():
        raise ParseSkipped("no cells with values in the spreadsheet")
    parsed.metadata["rows"] = rows
    return parsed

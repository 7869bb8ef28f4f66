"""Excel workbooks (.xlsx, .xlsm) through openpyxl: each sheet a section, rows with headers."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from mnemo.ingest.parsers.archive import check_package
from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)
from mnemo.ingest.parsers.tables import add_sheet

name = "xlsx"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    import openpyxl

    check_package(data, limits)
    try:
        # read_only streams rows; data_only gives formulas' cached values, as Excel shows them.
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ParseFailed(
            f"not a valid Excel (.xlsx) workbook ({exc}); re-save it from Excel or LibreOffice"
        ) from exc
    builder = DocumentBuilder(limits.max_text_chars)
    rows = 0
    try:
        for sheet in book.worksheets:
            rows += add_sheet(builder, sheet.title, sheet.iter_rows(values_only=True))
        title = (book.properties.title or "").strip() or path.name
    finally:
        book.close()
    parsed = builder.build(title=title, markup="text", metadata={"sheets": len(book.sheetnames)})
    if not rows and not parsed.text.strip():
        raise ParseSkipped("no cells with values in the workbook")
    parsed.metadata["rows"] = rows
    return parsed

"""CSV and TSV files: one table, each row written with its header (:mod:`tables`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mnemo.ingest.parsers.base import DocumentBuilder, ParsedDocument, ParseLimits, ParseSkipped
from mnemo.ingest.parsers.tables import add_sheet
from mnemo.ingest.parsers.text import decode_text

name = "csv"


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    source, encoding = decode_text(data)
    sample = source[:64_000]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    csv.field_size_limit(min(limits.max_text_chars, 2**31 - 1))
    builder = DocumentBuilder(limits.max_text_chars)
    try:
        rows = add_sheet(builder, None, csv.reader(io.StringIO(source), dialect))
    except csv.Error as exc:
        raise ParseSkipped(f"not readable as CSV ({exc}); check its quoting") from exc
    parsed = builder.build(title=path.name, markup="text", metadata={"encoding": encoding})
    if not parsed.text.strip():
        raise ParseSkipped("no rows in the table")
    parsed.metadata["rows"] = rows
    return parsed

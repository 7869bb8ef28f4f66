"""Tables (spreadsheets, CSV) as text a passage can be read by on its own.

Each sheet is a section under its name. A row is written as ``header: value``
pairs, so a chunk cut from the middle of a long sheet still says what each
value is; the header row itself is kept once at the sheet's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from mnemo.ingest.parsers.base import DocumentBuilder

#: Rows written before a sheet is cut short (a million-row sheet is a database, not a note).
MAX_ROWS = 200_000


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return " ".join(str(value).split())


def add_sheet(builder: DocumentBuilder, name: str | None, rows: Iterable[Sequence[Any]]) -> int:
    """Write one sheet; the number of data rows written."""
    if name:
        builder.heading(1, name)
    header: list[str] | None = None
    written = 0
    for row in rows:
        cells = [cell_text(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if header is None:
            header = cells
            builder.block(" | ".join(header))
            continue
        if written >= MAX_ROWS:
            builder.block(f"(rows after the first {MAX_ROWS:,} are not indexed)")
            break
        pairs = []
        for index, value in enumerate(cells):
            if not value:
                continue
            label = (
                header[index] if index < len(header) and header[index] else f"column {index + 1}"
            )
            pairs.append(f"{label}: {value}")
        builder.block("; ".join(pairs))
        written += 1
    return written

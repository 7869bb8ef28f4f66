"""Search results and document lists as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

TABLE_FORMATS = ("csv", "json")


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=1, default=str)
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(TABLE_FORMATS)}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return " › ".join(str(v) for v in value)
    return value


HIT_COLUMNS = (
    "rank",
    "score",
    "path",
    "title",
    "page_start",
    "page_end",
    "heading_path",
    "snippet",
    "document_id",
    "chunk_id",
)
DOCUMENT_COLUMNS = (
    "path",
    "state",
    "title",
    "media_type",
    "chunks",
    "pages",
    "size",
    "reason",
    "id",
)

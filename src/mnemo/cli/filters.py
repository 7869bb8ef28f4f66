"""The filter options that `search`, `ask` and `chat` share, and the Filters they make."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import typer

from mnemo.errors import QueryError
from mnemo.retrieval.filters import local_moment

if TYPE_CHECKING:
    from mnemo.retrieval.filters import Filters

_RELATIVE = re.compile(r"^(\d+)([hdw])$")

PATH = typer.Option(
    [], "--path", "-p", help="Only files matching this glob, e.g. '*.pdf'; repeatable."
)
TYPE = typer.Option(
    [],
    "--type",
    "-t",
    help="Only this media type or file extension: application/pdf, text/*, pdf, docx, md; "
    "repeatable.",
)
TAG = typer.Option([], "--tag", help="Only documents with this tag; repeatable.")
AFTER = typer.Option(
    None, "--after", help="Only files modified after this date or age (2026-11-01, 7d)."
)
BEFORE = typer.Option(None, "--before", help="Only files modified before this date or age.")


def make_filters(
    path: list[str], media_type: list[str], tag: list[str], after: str | None, before: str | None
) -> Filters | None:
    """The Filters the options describe; None when none was given."""
    from mnemo.retrieval.filters import Filters

    filters = Filters(
        path=tuple(path),
        media_types=tuple(media_type),
        tags=tuple(tag),
        modified_after=when(after, "--after"),
        modified_before=when(before, "--before"),
    )
    return None if filters.empty else filters


def when(value: str | None, option: str) -> datetime | None:
    """An ISO date or time (2026-11-01, 2026-11-01T09:30) or an age: 12h, 7d, 2w."""
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        try:
            return datetime.now().astimezone() - timedelta(**{unit: int(match.group(1))})
        except OverflowError:
            raise QueryError(f"{option} {value!r}: that is before the year 1") from None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(
            f"{option} {value!r} is not a date: use e.g. 2026-11-01, 2026-11-01T09:30, 12h, 7d or 2w"
        ) from None
    try:
        return local_moment(parsed)
    except ValueError as exc:
        raise QueryError(f"{option}: {exc}") from None

"""Search filters: pushed into the index as a SQL predicate, checked again on
the catalog's rows so that a result always matches what the catalog says."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mnemo.errors import QueryError


def local_moment(moment: datetime) -> datetime:
    """``moment`` with a time zone (the local one when it has none); ValueError when it
    cannot be placed on the clock, e.g. year 1 with no zone (shifting it would leave year 1)."""
    try:
        aware = moment if moment.tzinfo is not None else moment.astimezone()
        aware.timestamp()
    except (OverflowError, OSError, ValueError):
        raise ValueError(
            f"{moment.isoformat()} is out of range; give a time between the years 1900 and 9999"
        ) from None
    return aware


@dataclass(frozen=True)
class Filters:
    """Which documents a search may return; every given field must match.

    ``path``: globs (``*`` matches across folders, as in ``fnmatch``); a glob
    that does not start with ``/`` or ``*`` matches at any folder depth, e.g.
    ``notes/*.md``. ``media_types``: exact types, ``text/*``, or a file extension
    (``pdf``, ``.docx``), which stands for the media type Mnemo gives such files
    (``md`` is ``text/markdown``, ``py`` and ``txt`` are both ``text/plain``). ``tags``: any of
    them. ``modified_after`` / ``modified_before``: the document's own date where it
    carries one (a photo's EXIF date taken, an e-mail's Date), else the file's
    modification time.
    """

    path: Sequence[str] = field(default_factory=tuple)
    media_types: Sequence[str] = field(default_factory=tuple)
    tags: Sequence[str] = field(default_factory=tuple)
    modified_after: datetime | None = None
    modified_before: datetime | None = None

    def __post_init__(self) -> None:
        types = tuple(dict.fromkeys(media_type_for(m) for m in self.media_types))
        object.__setattr__(self, "media_types", types)
        for glob in self.path:
            if not glob.strip():
                raise QueryError("--path: empty glob; give e.g. '*.pdf' or 'notes/**'")
        if (
            self.modified_after is not None
            and self.modified_before is not None
            and self.modified_after >= self.modified_before
        ):
            raise QueryError(
                f"--after {self.modified_after:%Y-%m-%d %H:%M} is not before "
                f"--before {self.modified_before:%Y-%m-%d %H:%M}: no file can match"
            )

    @property
    def empty(self) -> bool:
        return not (
            self.path
            or self.media_types
            or self.tags
            or self.modified_after
            or self.modified_before
        )

    # -- pushed into the index ----------------------------------------------------

    def where(self) -> str | None:
        clauses = []
        if self.path:
            clauses.append(_any(f"path LIKE {_quote(_like(g))} ESCAPE '\\'" for g in self._globs()))
        if self.media_types:
            clauses.append(_any(_media_clause(m) for m in self.media_types))
        if self.tags:
            clauses.append(f"array_has_any(tags, [{', '.join(_quote(t) for t in self.tags)}])")
        if self.modified_after is not None:
            clauses.append(f"mtime >= {self.modified_after.timestamp()!r}")
        if self.modified_before is not None:
            clauses.append(f"mtime < {self.modified_before.timestamp()!r}")
        return " AND ".join(clauses) or None

    # -- checked on the catalog's rows --------------------------------------------

    def matches(self, path: str, media_type: str | None, tags: Sequence[str], mtime: float) -> bool:
        if self.path and not any(fnmatch.fnmatchcase(path, g) for g in self._globs()):
            return False
        if self.media_types and not any(_media_match(media_type, m) for m in self.media_types):
            return False
        if self.tags and not set(self.tags) & set(tags):
            return False
        if self.modified_after is not None and mtime < self.modified_after.timestamp():
            return False
        return self.modified_before is None or mtime < self.modified_before.timestamp()

    def _globs(self) -> list[str]:
        return [g if g.startswith(("/", "*")) else f"*/{g}" for g in (p.strip() for p in self.path)]


def media_type_for(value: str) -> str:
    """``value`` if it is a media type (``application/pdf``, ``text/*``), else the media type
    of the files with that extension (``pdf``, ``.docx``, ``md``); QueryError if none."""
    wanted = value.strip()
    if "/" in wanted:
        return wanted.lower()
    from mnemo.ingest.parsers import extensions

    found = extensions().get("." + wanted.lower().lstrip(".")) if wanted.strip(".") else None
    if found is None:
        raise QueryError(
            f"--type {value!r}: not a media type (e.g. application/pdf, text/*) nor the "
            "extension of a format Mnemo reads (e.g. pdf, docx, md, html, txt)"
        )
    return found.media_type


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _any(clauses: object) -> str:
    parts = list(clauses)  # type: ignore[call-overload]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _like(glob: str) -> str:
    out = []
    for ch in glob:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def _media_clause(media: str) -> str:
    if media.endswith("/*"):
        return f"media_type LIKE {_quote(_like(media[:-1]) + '%')} ESCAPE '\\'"
    return f"media_type = {_quote(media)}"


def _media_match(actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if wanted.endswith("/*"):
        return actual.startswith(wanted[:-1])
    return actual == wanted

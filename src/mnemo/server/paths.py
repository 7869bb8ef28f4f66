"""Which server paths clients may add: only below ``server.allowed_roots``.

One check for every front end that takes a path from a client (the REST API
and the MCP ``add_document`` tool); each turns :class:`PathRefused` into its
own kind of error.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePath

from mnemo.config import Settings
from mnemo.errors import SourceError


class PathRefused(SourceError):
    """A client's path cannot be added; ``forbidden`` when it points where it may not."""

    def __init__(self, message: str, *, forbidden: bool) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def readable_roots(settings: Settings) -> list[Path]:
    """Every folder the server may read files from on a client's behalf: the allowed
    roots, and its own uploads and notes folders."""
    own = [settings.home / "uploads", settings.home / "notes"]
    return [root.expanduser() for root in settings.server.allowed_roots] + own


def allowed_path(settings: Settings, raw: str) -> Path:
    """``raw`` resolved, if it is an existing path below one of ``server.allowed_roots``."""
    roots = [root.expanduser().resolve() for root in settings.server.allowed_roots]
    allowed = ", ".join(str(root) for root in roots)
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise PathRefused(f"{raw!r}: paths may not contain control characters", forbidden=False)
    if not roots:
        raise PathRefused(
            "adding files by server path is off: no server.allowed_roots are configured",
            forbidden=True,
        )
    if ".." in PurePath(raw).parts:
        raise PathRefused(
            f"{raw}: '..' could lead outside the folders this server may add from ({allowed}); "
            "give the path without it",
            forbidden=True,
        )
    if not os.path.isabs(raw):
        raise PathRefused(f"{raw}: give an absolute path on the server", forbidden=False)
    try:
        resolved = Path(raw).resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise PathRefused(
                f"{raw}: outside the folders this server may add from ({allowed})",
                forbidden=True,
            )
        if not resolved.exists():
            raise PathRefused(f"{raw}: no such file or folder", forbidden=False)
    except OSError as exc:
        raise PathRefused(f"{raw}: {exc.strerror or exc}", forbidden=False) from exc
    return resolved

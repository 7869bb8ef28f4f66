"""Progress events a run reports to its front end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """``scanned`` (``total`` files to check), ``file`` per file, ``embedding`` (``total``
    chunks to embed), ``embedded`` (``total`` more done), then ``done``."""

    kind: str
    total: int = 0
    path: str | None = None
    outcome: str | None = None


EventHandler = Callable[[Event], None]

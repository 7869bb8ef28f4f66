"""A collection's sources as the library page lists them, and whether this server may
read each one for clients (below ``server.allowed_roots``, or its own uploads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from mnemo.ingest.web import is_url
from mnemo.server.paths import readable_roots
from mnemo.server.uploads import is_upload

SHOWN = 50  # sources listed on the library page


def readable(request: Request, path: str) -> bool:
    if is_url(path):  # a web page: fetched again by the job, with the server's guard
        return bool(request.app.state.settings.web.server_urls)
    try:
        resolved = Path(path).resolve()
    except OSError:
        return False
    roots = readable_roots(request.app.state.settings)
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def source_views(request: Request, collection: str) -> dict[str, Any]:
    """The collection's sources other than uploads (at most :data:`SHOWN`), each with
    whether this server may sync it, and how many uploads there are."""
    settings = request.app.state.settings
    found = request.app.state.library.sources(collection=collection)
    added = [s for s in found if not is_upload(settings, s.path)]
    return {
        "shown": [
            {"path": s.path, "synced": s.last_synced_at, "readable": readable(request, s.path)}
            for s in added[:SHOWN]
        ],
        "total": len(added),
        "uploads": len(found) - len(added),
    }

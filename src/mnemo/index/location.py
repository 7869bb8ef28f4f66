"""Where a collection's search index lives, for status and messages (never a secret)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from mnemo.config import Settings


def without_password(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def index_location(settings: Settings) -> str:
    """The index's folder (LanceDB), server or file (Milvus), or its backend's name."""
    index = settings.index
    if index.backend == "lancedb":
        return str(settings.index_path)
    if index.backend == "milvus":
        return without_password(index.milvus_uri or str(settings.index_path / "milvus.db"))
    return index.backend

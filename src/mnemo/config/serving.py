"""Where a running `mnemo serve` can be reached by the CLI of the same home.

A cold `mnemo search` spends seconds importing the index and loading models; a
running server has them loaded. While it serves, `mnemo serve` keeps
``<home>/serve.json`` (owner-only): its process id, its address, a random token
that the server accepts for that process's lifetime only, and a fingerprint of the
settings it runs with. The CLI hands a command to it only when the fingerprint
matches its own settings, so a server started with other settings (another
embedder, an edited ``mnemo.toml``, a ``--set``) is never used by mistake.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mnemo.config.private import FILE_MODE
from mnemo.config.settings import Settings

FILE_NAME = "serve.json"
#: Settings that do not change what search and ask return: where the server listens,
#: the default collection (the CLI names its collection in each request), and how
#: files are read and chunked (that happens at ingestion, not at query time).
_NOT_FINGERPRINTED = {"home", "collection", "server", "ingest", "ocr", "transcription", "chunking"}


@dataclass(frozen=True)
class ServingRecord:
    pid: int
    url: str  # the base URL the CLI calls, e.g. http://127.0.0.1:8731
    token: str  # accepted by this server process only; never stored elsewhere
    fingerprint: str


def fingerprint(settings: Settings) -> str:
    """A digest of the settings that decide what search and ask return."""
    values = settings.model_dump(mode="json", exclude=_NOT_FINGERPRINTED)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write(home: Path, record: ServingRecord) -> None:
    """Publish the record (atomically, owner-only)."""
    path = home / FILE_NAME
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(record), handle)
    os.replace(temporary, path)


def remove(home: Path, pid: int) -> None:
    """Withdraw the record if it is still this process's (another server may have
    replaced it)."""
    record = read(home, check_alive=False)
    if record is not None and record.pid == pid:
        (home / FILE_NAME).unlink(missing_ok=True)


def read(home: Path, *, check_alive: bool = True) -> ServingRecord | None:
    """The record of a live server of this home, or None (no server, a record left by
    a server that died, or a file this user does not own)."""
    path = home / FILE_NAME
    try:
        if path.stat().st_uid != os.getuid():
            return None
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        record = ServingRecord(
            pid=int(data["pid"]),
            url=str(data["url"]),
            token=str(data["token"]),
            fingerprint=str(data["fingerprint"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive and not _alive(record.pid):
        return None
    return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # some other user's process has that id now
        return False
    return True

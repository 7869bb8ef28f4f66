"""The home folder is private to its user: folders 0700, files 0600, whatever the umask.

The catalog holds every indexed passage (and API key hashes, conversations,
feedback); the index and uploads hold the same text. ``mkdir(mode=...)`` and
``open(mode=...)`` are narrowed by the umask but never widened, so each path is
chmod-ed after it is created; a home made by an older version (or by a loose
umask) is tightened when the catalog is opened, with one log line.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("mnemo.storage")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: Folders below the home that hold documents' text or lock files.
HOME_FOLDERS = ("index", "locks", "uploads", "notes")
#: Files in the home: the catalog with SQLite's companions, its lock, settings.
HOME_FILES = (
    "catalog.db",
    "catalog.db-wal",
    "catalog.db-shm",
    "catalog.db-journal",
    "catalog.db.migrate.lock",
    "mnemo.toml",
)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; tighten it if it exists."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _tighten(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create an empty ``path`` owner-only if it does not exist; tighten it if it does."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def secure_home(home: Path) -> list[Path]:
    """Make ``home`` and what Mnemo keeps in it owner-only; returns what was tightened."""
    existed = home.exists()
    home.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    tightened = [p for p in [home] if _tighten(p, FOLDER_MODE)]
    for name in HOME_FOLDERS:
        folder = home / name
        if folder.is_dir() and _tighten(folder, FOLDER_MODE):
            tightened.append(folder)
    for name in HOME_FILES:
        if (home / name).is_file() and _tighten(home / name, FILE_MODE):
            tightened.append(home / name)
    locks = home / "locks"
    if locks.is_dir():
        tightened += [p for p in locks.glob("*.lock") if _tighten(p, FILE_MODE)]
    if tightened and existed:
        log.info(
            "made %s owner-only (%d path(s) were readable by others): %s",
            home,
            len(tightened),
            ", ".join(str(p.relative_to(home)) for p in tightened[:5]),
        )
    return tightened


def _tighten(path: Path, mode: int) -> bool:
    """chmod ``path`` to ``mode`` if it allows more; True if it did."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, mode)
            return True
    except OSError as exc:  # not ours to change (a shared mount): say so, do not fail
        log.warning("cannot make %s owner-only (%s)", path, exc.strerror)
    return False

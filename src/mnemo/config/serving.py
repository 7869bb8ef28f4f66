"""Where a running `mnemo serve` can be reached by the CLI of the same home.

A cold `mnemo search` spends seconds importing the index and loading models; a
running server has them loaded. While it serves, `mnemo serve` keeps
``<home>/serve.json`` (owner-only): its process id, its address, a random token
that the server accepts for that process's lifetime only, and a fingerprint of the
settings it runs with. The CLI hands a command to it only when the fingerprint
matches its own settings, so a server started with other settings (another
embedder, an edited ``mnemo.toml``, a ``--set``) is never used by mistake.

Building the settings model to compare fingerprints costs a cold command about
half a second (pydantic), more than the rest of a handed-over command. So the
record also holds a digest of the *inputs* the server's settings were built from
(:func:`inputs`: the code's settings modules, the home, the bytes of its
``mnemo.toml``, the ``MNEMO_*`` environment and the ``--set`` flags, less the
default collection, which each request names). Equal inputs make equal (and
valid) settings, so the CLI hands a command over when its own inputs match,
reading only the home and the collection (:func:`resolve`) and no settings model;
when they differ it compares fingerprints as before, which may still match.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemo.config.private import FILE_MODE

if TYPE_CHECKING:
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
    inputs: str = ""  # see inputs(); empty in a record written by an older server


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
            inputs=str(data.get("inputs", "")),
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


#: The modules whose code decides the settings' defaults and validation.
_SETTINGS_CODE = ("settings.py", "production.py", "../registry.py")
#: As :data:`mnemo.config.settings.COLLECTION_NAME` (a test keeps them equal).
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SETTINGS_FILE = "mnemo.toml"


def resolve(
    home: Path | str | None,
    assignments: list[str],
    collection: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, str] | None:
    """The home and the collection that :func:`mnemo.config.load_settings` would give
    for these flags (``--home``, ``--set``, ``--collection``), read without building
    the settings model; None where that is not plain (an invalid ``mnemo.toml``, an
    invalid name...), and the caller loads the settings, which say what is wrong."""
    env = os.environ if environ is None else environ
    resolved = home_of(home, env)
    if collection is None:
        collection = _flagged_collection(assignments)
    if collection is None:
        # Pydantic reads MNEMO_* names whatever their case.
        named = [key for key in env if key.lower().startswith("mnemo_collection")]
        if len(named) > 1 or (named and named[0].lower() != "mnemo_collection"):
            return None
        if named:
            collection = env[named[0]]
    if collection is None:
        try:
            data = tomllib.loads((resolved / _SETTINGS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError):  # the settings loader names the problem
            return None
        if "home" in data:
            return None
        collection = data.get("collection", "default")
    if not isinstance(collection, str) or not _COLLECTION_NAME.match(collection):
        return None
    return resolved, collection


def home_of(home: Path | str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory: ``--home``, else ``MNEMO_HOME``, else the user data directory
    (as the settings loader chooses it)."""
    env = os.environ if environ is None else environ
    if home is not None:
        return Path(home).expanduser().resolve()
    if env.get("MNEMO_HOME"):
        return Path(env["MNEMO_HOME"]).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("mnemo", appauthor=False))


def _flagged_collection(assignments: list[str]) -> str | None:
    found = None
    for item in assignments:
        key, sep, value = item.partition("=")
        if key.strip().split(".")[0] == "collection":
            if not sep or key.strip() != "collection":
                return "."  # not a name: resolve() gives up, the loader explains
            found = value
    return found


def inputs(home: Path, assignments: list[str], environ: Mapping[str, str] | None = None) -> str:
    """A digest of what settings are built from: equal digests (the same code, home,
    ``mnemo.toml``, environment and flags) make equal settings. Empty when the code
    cannot be read: then it is never taken as equal."""
    env = os.environ if environ is None else environ
    here = Path(__file__).resolve().parent
    code = hashlib.sha256()
    try:
        for name in _SETTINGS_CODE:
            code.update((here / name).read_bytes())
    except OSError:  # no sources to compare (a zipped install): only fingerprints are
        return ""
    try:
        file = hashlib.sha256((home / _SETTINGS_FILE).read_bytes()).hexdigest()
    except FileNotFoundError:
        file = None
    except OSError:
        file = "unreadable"  # never equal to a server's: the loader says why
    values = {
        "code": code.hexdigest(),
        "home": str(home),
        "file": file,
        "env": sorted(
            (key, value)
            for key, value in env.items()
            if key.upper().startswith("MNEMO_") and not _chosen_apart(key[6:], "__")
        ),
        "set": [item for item in assignments if not _chosen_apart(item.split("=")[0], ".")],
    }
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chosen_apart(key: str, separator: str) -> bool:
    """The home (in the digest as resolved) and the default collection (validated by
    :func:`resolve`; each request names its collection)."""
    return key.strip().split(separator)[0].lower() in ("home", "collection")

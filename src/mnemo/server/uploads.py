"""What clients may hand the server: uploaded files and paths on the server.

An upload's type is decided by its bytes, not its name: PDF, DOCX (a zip with
``word/``), HTML or text; its name must carry an extension that the parser
registry reads as that type (any text format's extension for text, a plugin's
included), else it is refused. Files are saved under ``<home>/uploads/<collection>/`` with a name
reduced to safe characters; a name already taken gets a number (``x-2.txt``), so
two uploads never replace each other. Server paths must resolve below one of
``server.allowed_roots``.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePath

from mnemo.config import Settings
from mnemo.config.private import private_dir, private_file
from mnemo.ingest import parsers
from mnemo.ingest.parsers.builtin import DOCX_TYPE
from mnemo.server import paths
from mnemo.server.errors import ApiError

#: What each sniffed kind's parsers declare as their media type.
_MEDIA_TYPES: dict[str, Callable[[str], bool]] = {
    "pdf": lambda media: media == "application/pdf",
    "docx": lambda media: media == DOCX_TYPE,
    "html": lambda media: media in ("text/html", "application/xhtml+xml"),
    "text": lambda media: media.startswith("text/") and media != "text/html",
}
_UNSAFE = re.compile(r"[^\w.\- ]+")


def sniff(data: bytes) -> str | None:
    """pdf, docx, html or text from the content, or None when it is none of them."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return None
        return "docx" if "word/document.xml" in names else None
    if b"\x00" in data[:8192]:
        return None
    try:
        head = data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 65536 - 4:  # not a multi-byte character cut at the boundary
            return None
        head = data[: exc.start].decode("utf-8")
    start = head.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")) or "<body" in start[:2048]:
        return "html"
    return "text"


def extensions_for(kind: str) -> set[str]:
    """The extensions a file of this sniffed kind may be uploaded with: those the
    parser registry (built-ins and plugins) reads with a parser of that type."""
    wanted = _MEDIA_TYPES[kind]
    return {ext for ext, fmt in parsers.extensions().items() if wanted(fmt.media_type)}


def _some(extensions: set[str], shown: int = 8) -> str:
    """``one of .a, .b`` or, for long lists, the first few (the usual ones first)
    and how many more."""
    usual = [".txt", ".md", ".csv", ".json"]
    names = sorted(
        extensions, key=lambda ext: (ext not in usual, usual.index(ext) if ext in usual else 0, ext)
    )
    if len(names) <= shown:
        return "one of " + ", ".join(names)
    return f"one of {', '.join(names[:shown])} (or {len(names) - shown} more)"


def safe_name(filename: str) -> str:
    """A file name with no path, control characters or oddities; ApiError 400 if none is left."""
    name = unicodedata.normalize("NFKC", PurePath(filename.replace("\\", "/")).name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")[:200]
    if not name or "." not in name:
        raise ApiError(400, "bad_filename", f"unusable file name {filename!r}: give a name.ext")
    return name


def check_upload(filename: str, data: bytes, max_mb: float) -> str:
    """The safe name to save ``data`` under; ApiError 400/413/415 when it must be refused."""
    name = safe_name(filename)
    if not data:
        raise ApiError(400, "empty_upload", f"{name}: the file is empty")
    if len(data) > max_mb * 1024 * 1024:
        raise ApiError(413, "upload_too_large", f"{name}: over server.max_upload_mb ({max_mb} MiB)")
    kind = sniff(data)
    suffix = Path(name).suffix.lower()
    if kind is None:
        raise ApiError(415, "unsupported_media_type", f"{name}: not PDF, DOCX, HTML or text")
    accepted = extensions_for(kind)
    if suffix not in accepted:
        raise ApiError(
            415,
            "media_type_mismatch",
            f"{name}: the content is {kind} but the name says {suffix or 'nothing'}; "
            f"use {_some(accepted)}",
        )
    return name


def save_upload(settings: Settings, collection: str, name: str, data: bytes) -> Path:
    """Write atomically under ``<home>/uploads/<collection>/``, as ``name`` or, when that
    is taken, ``stem-2.ext``, ``stem-3.ext``, ...: a new upload never replaces another."""
    private_dir(settings.home / "uploads")
    folder = private_dir(settings.home / "uploads" / collection)
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while True:
        target = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:  # claim the name; creating it exclusively settles a race between two uploads
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            break
        except FileExistsError:
            n += 1
    partial = private_file(folder / f".{target.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, target)
    return target


def is_upload(settings: Settings, path: str) -> bool:
    return Path(path).is_relative_to(settings.home / "uploads")


def allowed_path(settings: Settings, raw: str) -> Path:
    """``raw`` resolved; ApiError 403 unless it lies below an allowed root, 400 if unusable."""
    try:
        return paths.allowed_path(settings, raw)
    except paths.PathRefused as exc:
        if exc.forbidden:
            raise ApiError(403, "path_not_allowed", str(exc)) from exc
        raise ApiError(400, "bad_path", str(exc)) from exc

"""What clients may hand the server: uploaded files and paths on the server.

An upload's type is decided by its bytes, not its name: PDF, DOCX (a zip with
``word/``), PPTX, XLSX, ODS and EPUB (zips told apart by their parts), images
and audio or video (by their magic numbers), HTML or text (e-mail, mailboxes
and notebooks are text); its name must carry an extension that the parser
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

_TEXT_TYPES = ("message/rfc822", "application/mbox", "application/x-ipynb+json")
#: What each sniffed kind's parsers declare as their media type.
_MEDIA_TYPES: dict[str, Callable[[str], bool]] = {
    "pdf": lambda media: media == "application/pdf",
    "docx": lambda media: media == DOCX_TYPE,
    "pptx": lambda media: media.endswith(".presentationml.presentation"),
    "xlsx": lambda media: media.endswith(".spreadsheetml.sheet"),
    "ods": lambda media: media == "application/vnd.oasis.opendocument.spreadsheet",
    "epub": lambda media: media == "application/epub+zip",
    "image": lambda media: media.startswith("image/"),
    "audio or video": lambda media: media.startswith(("audio/", "video/")),
    "html": lambda media: media in ("text/html", "application/xhtml+xml"),
    "text": lambda media: (
        (media.startswith("text/") and media != "text/html") or media in _TEXT_TYPES
    ),
}
#: Zip packages by a part only they have.
_ZIP_PARTS = {
    "word/document.xml": "docx",
    "ppt/presentation.xml": "pptx",
    "xl/workbook.xml": "xlsx",
}
#: ODF and EPUB packages by their stored ``mimetype`` part.
_ZIP_MIMETYPES = {
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/epub+zip": "epub",
}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_MEDIA_MAGIC = (
    b"ID3",
    b"OggS",
    b"fLaC",
    b"\x1a\x45\xdf\xa3",
    b"\xff\xfb",
    b"\xff\xf3",
    b"\xff\xf2",
)
KINDS = "PDF, DOCX, PPTX, XLSX, ODS, EPUB, an image, audio or video, HTML or text"


def _zip_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            for part, kind in _ZIP_PARTS.items():
                if part in names:
                    return kind
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 100:
                return _ZIP_MIMETYPES.get(archive.read("mimetype").strip())
    except (zipfile.BadZipFile, RuntimeError, ValueError, OSError):
        return None
    return None


def _binary_kind(data: bytes) -> str | None:
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if (
        data.startswith(b"BM")
        and len(data) > 26
        and data[14:15] in (b"\x0c", b"\x28", b"\x40", b"\x6c", b"\x7c")
    ):
        return "image"
    if data.startswith(_MEDIA_MAGIC) or data[4:8] == b"ftyp":
        return "audio or video"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio or video"
    return None


_UNSAFE = re.compile(r"[^\w.\- ]+")


def sniff(data: bytes) -> str | None:
    """The kind of file (a key of ``_MEDIA_TYPES``) from the content, or None when it is
    none of them."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    binary = _binary_kind(data)
    if binary is not None:
        return binary
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
        raise ApiError(415, "unsupported_media_type", f"{name}: not {KINDS}")
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

"""Parser registry: one module per format, chosen by file extension.

Parsers share the registry shape of every pluggable part (:mod:`mnemo.registry`):
the built-ins (:mod:`mnemo.ingest.parsers.builtin`) and ``mnemo.parsers``
entry-point plugins both receive the registry's hook and call it as
``register(extensions, name, parse, media_type)``; :func:`register` is the same
call from code.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from mnemo.ingest.parsers import text
from mnemo.ingest.parsers.base import (
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
    Section,
)
from mnemo.registry import Registry

ParseFunction = Callable[[bytes, Path, ParseLimits], ParsedDocument]


@dataclass(frozen=True)
class Format:
    name: str
    parse: ParseFunction
    media_type: str


class ParserRegistry(Registry[Format]):
    """Formats by name, and the format each file extension maps to."""

    def __init__(self) -> None:
        super().__init__("parser", "mnemo.parsers", ["mnemo.ingest.parsers.builtin"])
        self._by_extension: dict[str, Format] = {}

    @property
    def hook(self) -> Callable[..., None]:
        return self.add

    def add(
        self, extensions: Iterable[str], name: str, parse: ParseFunction, media_type: str
    ) -> None:
        """Make ``parse`` handle files with these extensions (``".md"`` or ``"md"``)."""
        fmt = Format(name, parse, media_type)
        with self._lock:
            self.register(name, fmt)
            for extension in extensions:
                self._by_extension["." + extension.lower().lstrip(".")] = fmt

    def reload(self) -> None:
        with self._lock:
            super().reload()
            self._by_extension.clear()

    def by_extension(self) -> Mapping[str, Format]:
        """Every extension (``".md"``) a registered format reads (a read-only view)."""
        self._load(plugins=True)
        return MappingProxyType(self._by_extension)


PARSERS = ParserRegistry()


def register(extensions: Iterable[str], name: str, parse: ParseFunction, media_type: str) -> None:
    """Make ``parse`` handle files with these extensions (``".md"`` or ``"md"``)."""
    PARSERS.add(extensions, name, parse, media_type)


def extensions() -> Mapping[str, Format]:
    """Every file extension (``".md"``) Mnemo reads, with the format that reads it."""
    return PARSERS.by_extension()


#: Formats people expect to be read that Mnemo does not read yet.
NOT_YET = {".doc", ".ppt", ".xls", ".odt", ".odp", ".rtf", ".pages", ".msg"}
PLAIN_TEXT = Format(text.name, text.parse, "text/plain")
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "application/")


def format_for(path: Path, head: bytes | None = None) -> Format | str | None:
    """The format that reads ``path``, or the reason it is skipped.

    A file whose extension says nothing needs a look at its first bytes: without
    ``head`` the answer is None (read the head and ask again); with it, text is
    read as plain text.
    """
    known = PARSERS.by_extension()
    suffix = path.suffix.lower() or path.name.lower()
    found = known.get(suffix) or known.get("." + path.name.lower())
    if found is not None:
        return found
    if suffix in NOT_YET:
        return f"{suffix} files are not supported yet; convert to PDF or DOCX to index them"
    guessed, compression = mimetypes.guess_type(path.name)
    if compression:
        return f"compressed file ({compression}); decompress it to index its contents"
    if guessed and guessed.startswith(_BINARY_PREFIXES):
        return f"unsupported file type ({guessed})"
    if head is None:
        return None
    if head.strip() and not text.looks_binary(head):
        return PLAIN_TEXT
    label = path.suffix or "no extension"
    return f"unsupported file type ({label}, not text)"


__all__ = [
    "PARSERS",
    "Format",
    "ParseFailed",
    "ParseLimits",
    "ParseSkipped",
    "ParsedDocument",
    "Section",
    "extensions",
    "format_for",
    "register",
]

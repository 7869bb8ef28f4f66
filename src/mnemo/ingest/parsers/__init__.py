"""Parser registry: one module per format, chosen by file extension.

Built-in formats are registered with :func:`register`, the same call a plugin
makes from a ``mnemo.parsers`` entry point (a callable taking ``register``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from mnemo.ingest.parsers import docx, html, markdown, pdf, text
from mnemo.ingest.parsers.base import (
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
    Section,
)

ParseFunction = Callable[[bytes, Path, ParseLimits], ParsedDocument]


@dataclass(frozen=True)
class Format:
    name: str
    parse: ParseFunction
    media_type: str


_BY_EXTENSION: dict[str, Format] = {}
_plugins_loaded = False


def register(extensions: Iterable[str], name: str, parse: ParseFunction, media_type: str) -> None:
    """Make ``parse`` handle files with these extensions (``".md"`` or ``"md"``)."""
    fmt = Format(name, parse, media_type)
    for extension in extensions:
        _BY_EXTENSION["." + extension.lower().lstrip(".")] = fmt


register(["pdf"], pdf.name, pdf.parse, "application/pdf")
register(
    ["docx"],
    docx.name,
    docx.parse,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
register(["md", "markdown", "mdown", "mkd", "mdx"], markdown.name, markdown.parse, "text/markdown")
register(["html", "htm", "xhtml"], html.name, html.parse, "text/html")
register(
    "txt text rst csv tsv log org adoc asciidoc tex bib json jsonl yaml yml toml ini cfg conf "
    "xml py pyi js mjs cjs ts tsx jsx go rs java kt kts c h cc cpp cxx hpp cs rb php swift "
    "scala sh bash zsh fish ps1 sql r lua pl pm css scss less vue svelte dart ex exs erl hs "
    "ml clj jl nim zig proto graphql gradle makefile dockerfile".split(),
    text.name,
    text.parse,
    "text/plain",
)

#: Formats people expect to be read that Mnemo does not read yet.
NOT_YET = {".doc", ".ppt", ".pptx", ".xls", ".xlsx", ".odt", ".epub", ".rtf", ".pages"}
PLAIN_TEXT = Format(text.name, text.parse, "text/plain")
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "application/")


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in entry_points(group="mnemo.parsers"):
        entry.load()(register)


def format_for(path: Path, head: bytes | None = None) -> Format | str | None:
    """The format that reads ``path``, or the reason it is skipped.

    A file whose extension says nothing needs a look at its first bytes: without
    ``head`` the answer is None (read the head and ask again); with it, text is
    read as plain text.
    """
    _load_plugins()
    suffix = path.suffix.lower() or path.name.lower()
    found = _BY_EXTENSION.get(suffix) or _BY_EXTENSION.get("." + path.name.lower())
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
    "Format",
    "ParseFailed",
    "ParseLimits",
    "ParseSkipped",
    "ParsedDocument",
    "Section",
    "format_for",
    "register",
]

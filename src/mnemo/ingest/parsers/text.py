"""Plain text and text-like files: .txt, .rst, .csv, logs, source code."""

from __future__ import annotations

from pathlib import Path

import charset_normalizer

from mnemo.ingest.parsers.base import ParsedDocument, ParseLimits, ParseSkipped, Section

name = "text"

_SNIFF = 8192
_PREFERRED = ("cp1252", "latin_1", "iso8859_15")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first block mean binary, unless it is UTF-16/32 with a BOM."""
    head = data[:_SNIFF]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes to text and name the encoding; skip files that are not text."""
    if not data:
        raise ParseSkipped("empty file (0 bytes)")
    if not data.strip():
        raise ParseSkipped("no text (only whitespace)")
    if looks_binary(data):
        raise ParseSkipped("binary content, not text; exclude it or give it its real extension")
    try:
        return _normalise(data.decode("utf-8-sig")), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(data[: 1 << 20])
    best = matches.best()
    if best is None or best.encoding is None:
        raise ParseSkipped("not valid text in any known encoding (binary?)")
    # Short texts often fit several code pages equally well; then prefer the
    # most common legacy one (Windows-1252, a superset of Latin-1's letters).
    tied = [m.encoding for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence]
    encoding = next((e for e in _PREFERRED if e in tied), best.encoding)
    return _normalise(data.decode(encoding, errors="replace")), encoding


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise ParseSkipped("no text (only whitespace)")
    return text


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    text, encoding = decode_text(data)
    return ParsedDocument(
        text=text,
        sections=[Section((), 0, len(text))],
        metadata={"encoding": encoding},
    )

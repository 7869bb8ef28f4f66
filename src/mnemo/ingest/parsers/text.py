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
    # UTF-8 with a few damaged bytes (a stray Latin-1 byte in a log, a cut
    # character) is still UTF-8: its valid multi-byte letters outnumber the bad bytes.
    damaged = data.decode("utf-8-sig", errors="replace")
    invalid = damaged.count("\ufffd")
    if len(damaged) - len(damaged.encode("ascii", "ignore")) - invalid >= invalid:
        return _normalise(damaged), "utf-8"
    sample = data[: 1 << 20]
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None or best.encoding is None:
        raise ParseSkipped("not valid text in any known encoding (binary?)")
    # Short texts often fit several code pages equally well; then prefer the
    # most common legacy one (Windows-1252, a superset of Latin-1's letters).
    tied = [m.encoding for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence]
    encoding = next((e for e in _PREFERRED if e in tied), best.encoding)
    if encoding not in _PREFERRED and _reads_as_cp1252(sample, best.chaos):
        encoding = "cp1252"
    return _normalise(data.decode(encoding, errors="replace")), encoding


def _reads_as_cp1252(sample: bytes, best_chaos: float) -> bool:
    """Windows-1252 reads ``sample`` about as cleanly as the detector's favourite.

    On a few words the detector has no evidence and picks among dozens of code
    pages (``café`` came out as Urdu cp1006, ``São`` as Big5), and on a long file
    it only samples, so accents after an ASCII start went unseen.
    """
    found = charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"]).best()
    return found is not None and found.encoding == "cp1252" and found.chaos <= best_chaos + 0.1


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

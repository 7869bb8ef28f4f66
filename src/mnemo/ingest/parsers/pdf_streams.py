"""PDF: refuse streams that inflate past the limit, before pdfium inflates them.

pdfium inflates a page's content streams whole and offers no cap, so a few
hundred kilobytes of Flate data can become gigabytes. Every stream in a PDF
(content streams, object streams, images) sits between ``stream`` and
``endstream`` at the top level of the file; each Flate one is inflated here
piece by piece, output counted and thrown away, and the file is refused at the
first stream over the limit. Memory stays at one piece; time is bounded by
the limit. Streams this cannot read (encrypted, other filters) are left to the
worker's memory and time budget.
"""

from __future__ import annotations

import re
import zlib

from mnemo.ingest.parsers.base import ParseLimits, ParseSkipped

_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_PIECE = 1 << 16
_OUT = 1 << 20
_DICT_LOOKBACK = 4096


def _is_flate(data: bytes, keyword_at: int) -> bool:
    head = data[max(0, keyword_at - _DICT_LOOKBACK) : keyword_at]
    head = head[head.rfind(b"obj") + 1 :]  # this object's dictionary only
    return b"/FlateDecode" in head or b"/Fl " in head or b"/Fl]" in head or b"/Fl/" in head


def _inflated_size(data: bytes, start: int, cap: int) -> int:
    """Bytes the Flate stream at ``start`` inflates to, counting stops past ``cap``."""
    inflater = zlib.decompressobj()
    total = 0
    position = start
    try:
        while not inflater.eof and position < len(data) and total <= cap:
            total += len(inflater.decompress(data[position : position + _PIECE], _OUT))
            position += _PIECE
            # Past the stream's end what is left of the piece stays in the tail: stop
            # there (decompressing it again gives nothing, and grows unused_data).
            while inflater.unconsumed_tail and not inflater.eof and total <= cap:
                total += len(inflater.decompress(inflater.unconsumed_tail, _OUT))
    except zlib.error:
        pass  # damaged or encrypted: pdfium decides what to do with it
    return total


def check_streams(data: bytes, limits: ParseLimits) -> None:
    """Raise ParseSkipped if any Flate stream inflates past ``limits.max_inflated_bytes``."""
    cap = limits.max_inflated_bytes
    for match in _STREAM.finditer(data):
        if not _is_flate(data, match.start()):
            continue
        size = _inflated_size(data, match.end(), cap)
        if size > cap:
            raise ParseSkipped(
                f"a PDF stream (at byte {match.end():,}) inflates to over "
                f"{cap / 1_000_000:,.1f} MB (a decompression bomb? "
                "raise ingest.max_inflated_mb to index it)"
            )

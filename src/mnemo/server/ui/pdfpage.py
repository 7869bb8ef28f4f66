"""A PDF page as a PNG, with a passage's lines highlighted.

pypdfium2 renders the page and gives its text with a box for every run of characters;
the passage is found in the page's text word by word (the chunk's text was joined
and cleaned by the parser, so its characters need not match the page's exactly)
and the boxes of the matched words are painted over the rendered page.
"""

from __future__ import annotations

import difflib
import io
import re
import threading
from pathlib import Path
from typing import Any

from mnemo.errors import SourceError

_WORD = re.compile(r"\w+")
_LOCK = threading.Lock()  # PDFium is not thread-safe
HIGHLIGHT = (255, 214, 0, 110)
_OUTLINE = (200, 120, 0, 255)


def passage_ranges(page_text: str, passage: str, min_run: int = 3) -> list[tuple[int, int]]:
    """Character ranges of ``page_text`` that hold ``passage``'s words, in runs of at
    least ``min_run`` words (or all of a passage shorter than that)."""
    page_words = [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(page_text)]
    wanted = [m.group().lower() for m in _WORD.finditer(passage)]
    if not page_words or not wanted:
        return []
    matcher = difflib.SequenceMatcher(None, [w for w, _, _ in page_words], wanted, autojunk=False)
    need = min(min_run, len(wanted))
    ranges: list[tuple[int, int]] = []
    for a, _, size in matcher.get_matching_blocks():
        if size >= need:
            ranges.append((page_words[a][1], page_words[a + size - 1][2]))
    return ranges


def quote_page(path: Path, quote: str, first: int, last: int) -> int:
    """The page, from ``first`` to ``last``, that holds most of ``quote``'s words: where a
    passage that runs over a page break says what a citation quotes. ``first`` when none
    holds half of them (or the file cannot be read)."""
    import pypdfium2 as pdfium

    words = len(_WORD.findall(quote))
    best, best_share = first, 0.5
    try:
        with _LOCK:
            pdf = _open(pdfium, path)
            try:
                for number in range(max(first, 1), min(last, len(pdf)) + 1):
                    text_page = pdf[number - 1].get_textpage()
                    try:
                        text = text_page.get_text_range()
                    finally:
                        text_page.close()
                    found = sum(
                        len(_WORD.findall(text[start:end]))
                        for start, end in passage_ranges(text, quote)
                    )
                    if words and found / words > best_share:
                        best, best_share = number, found / words
            finally:
                pdf.close()
    except SourceError:
        return first
    return best


def page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    with _LOCK:
        pdf = _open(pdfium, path)
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_page(
    path: Path,
    number: int,
    passage: str | None,
    zoom: float = 1.5,
    ocr: dict[str, Any] | None = None,
) -> bytes:
    """Page ``number`` (1-based) of the PDF at ``path`` as PNG bytes, ``passage`` highlighted:
    by the page's text layer, or on a scanned page by its OCR word boxes (``ocr``: the
    OCR'd image's ``width`` and the passage's ``boxes``, as ``Library.word_boxes`` gives)."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    with _LOCK:
        pdf = _open(pdfium, path)
        try:
            if not 1 <= number <= len(pdf):
                raise SourceError(f"{path.name} has no page {number} (it has {len(pdf)})")
            page = pdf[number - 1]
            image = page.render(scale=zoom).to_pil().convert("RGBA")
            boxes = _boxes(page, passage) if passage and ocr is None else []
            height = page.get_height()
            left0, bottom0 = page.get_cropbox()[:2]
        finally:
            pdf.close()
    if boxes:
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for left, bottom, right, top in boxes:
            x0, x1 = (left - left0) * zoom, (right - left0) * zoom
            y0, y1 = (height - (top - bottom0)) * zoom, (height - (bottom - bottom0)) * zoom
            draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=HIGHLIGHT)
            draw.line((x0 - 4, y0 - 2, x0 - 4, y1 + 2), fill=_OUTLINE, width=3)
        image = Image.alpha_composite(image, layer)
    if ocr is not None and ocr.get("boxes"):
        image = _paint_ocr(image, ocr)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=False)
    return out.getvalue()


def _paint_ocr(image: Any, ocr: dict[str, Any]) -> Any:
    """Word boxes in the OCR'd image's pixels, scaled to this rendering, painted."""
    from PIL import Image, ImageDraw

    scale = image.width / max(int(ocr["width"]), 1)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for left, top, width, height in ocr["boxes"]:
        x0, y0 = left * scale, top * scale
        x1, y1 = (left + width) * scale, (top + height) * scale
        draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=HIGHLIGHT)
    return Image.alpha_composite(image, layer)


def _open(pdfium: object, path: Path) -> object:
    try:
        return pdfium.PdfDocument(str(path))  # type: ignore[attr-defined]
    except Exception as exc:  # PdfiumError, OSError: the file changed or went away
        raise SourceError(f"{path.name}: cannot open the PDF to show it ({exc})") from exc


def _boxes(page: object, passage: str) -> list[tuple[float, float, float, float]]:
    text_page = page.get_textpage()  # type: ignore[attr-defined]
    try:
        count = text_page.count_chars()
        text = text_page.get_text_range(0, count)
        if len(text) != count:  # one character per index, so the ranges line up
            text = "".join(text_page.get_text_range(i, 1)[:1] or " " for i in range(count))
        boxes = []
        for start, end in passage_ranges(text, passage):
            for i in range(text_page.count_rects(start, end - start)):
                boxes.append(text_page.get_rect(i))
        return boxes
    finally:
        text_page.close()

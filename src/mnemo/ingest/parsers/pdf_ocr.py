"""Which PDF pages need OCR, and reading them: rendered by pdfium, read by Tesseract.

A page is OCR'd when its text layer is empty, when it is garbage (mostly
characters no language writes: a font without a Unicode map), or when it is
a few characters (a page number, a stamp) over a page-sized picture.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from mnemo.ingest.parsers.base import OcrOptions, need_time
from mnemo.ingest.parsers.ocr import OcrPage, OcrTimeout, OcrUnavailable, recognise

#: Fewer characters than this over a picture: a scanned page with a stamp on it.
_STAMP_CHARS = 40
#: Rendered pages are kept under this many pixels (a huge page is read at a lower DPI).
_MAX_PIXELS = 60_000_000


def garbage(text: str) -> bool:
    """True when most of the text is not letters, digits, punctuation or spaces."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return False
    good = sum(1 for c in chars if unicodedata.category(c)[0] in "LNPS" and c not in "\ufffd\ufffe")
    return good / len(chars) < 0.6


def _has_picture(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


class PageReader:
    """OCRs the pages of one PDF that need it, and says afterwards what it did."""

    def __init__(self, options: OcrOptions) -> None:
        self.options = options
        self.unavailable: str | None = None
        self.needed = 0
        self.timed_out: list[int] = []
        self.pages: list[list[Any]] = []  # (page number, offset of its text, cache key)
        self._keys: dict[int, str] = {}

    def _needs_ocr(self, page: Any, text: str) -> bool:
        stripped = text.strip()
        if not stripped or garbage(stripped):
            return True
        return len(stripped) < _STAMP_CHARS and _has_picture(page)

    def read(self, page: Any, number: int, text: str) -> OcrPage | None:
        """The page's OCR text if it needs (and gets) OCR; None to keep its own text."""
        if not self.options.enabled or not self._needs_ocr(page, text):
            return None
        self.needed += 1
        if self.unavailable is not None:
            return None
        need_time(self.options.page_seconds)  # rendering is part of the page's OCR
        width, height = page.get_size()
        scale = self.options.dpi / 72
        if width * height * scale * scale > _MAX_PIXELS:
            scale = (_MAX_PIXELS / (width * height)) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image = bitmap.to_pil()
            result, key = recognise(image, self.options)
        except OcrUnavailable as exc:
            self.unavailable = str(exc)
            return None
        except OcrTimeout:
            self.timed_out.append(number)
            return None
        finally:
            bitmap.close()
        if not result.text.strip():
            return None
        self._keys[number] = key
        return result

    def placed(self, number: int, offset: int, result: OcrPage) -> None:
        """Where the page's OCR text went in the document (for its word boxes)."""
        self.pages.append([number, offset, self._keys[number]])

    def why_no_text(self, count: int) -> str:
        """The reason a PDF none of whose pages gave text is skipped."""
        base = f"no text layer in any of {count} pages (scanned or image-only PDF)"
        if not self.options.enabled:
            return f"{base}; OCR is off (ocr.enabled = false): turn it on to read it"
        if self.unavailable is not None:
            return f"{base}, and {self.unavailable}"
        if self.timed_out:
            return (
                f"{base}, and OCR took longer than {self.options.page_seconds:g} s on "
                f"{len(self.timed_out)} of them (raise ocr.page_seconds, or lower ocr.dpi)"
            )
        return f"{base}, and OCR found no text on them (blank pages or pictures only)"

    def metadata(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.pages:
            found["ocr_pages"] = self.pages
            found["ocr"] = self.options.languages
        missed = self.needed - len(self.pages)
        if self.needed and missed and (self.unavailable or self.timed_out):
            why = self.unavailable or (
                f"OCR took longer than {self.options.page_seconds:g} s on pages "
                + ", ".join(str(n) for n in self.timed_out)
            )
            found["ocr_warning"] = f"{missed} scanned page(s) not read: {why}"
        return found

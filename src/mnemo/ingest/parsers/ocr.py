"""OCR: a page image's text and word boxes, by Tesseract (through pytesseract).

Each page's result is cached on disk by the hash of its pixels and the OCR
settings, so a page is never recognised twice (a re-synced file whose pages
did not change, or the same scan in two files). A word box is kept with the
character offset of its word in the page's text, so a passage's words can be
found on the page image (:func:`boxes_in`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.base import OcrOptions, ParseSkipped, need_time

#: Bumped when the way a page's text is assembled from Tesseract's words changes.
_CACHE_VERSION = "2"  # 2: pages levelled before OCR
#: Tesseract's page segmentation: automatic, without orientation detection.
_CONFIG = "--psm 3"
#: Skew corrected before OCR: from this many degrees, up to that many.
_MIN_SKEW, _MAX_SKEW = 0.5, 5


class OcrUnavailable(ParseSkipped):
    """Tesseract (or a language it was asked for) is not installed."""


class OcrTimeout(Exception):
    """One page took longer than ``ocr.page_seconds``."""


@dataclass(frozen=True)
class OcrPage:
    """One page's recognised text; ``words`` are (offset in text, left, top, width, height)."""

    text: str
    width: int
    height: int
    words: list[tuple[int, int, int, int, int]]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "width": self.width, "height": self.height, "words": self.words}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OcrPage:
        words = [(int(a), int(b), int(c), int(d), int(e)) for a, b, c, d, e in data["words"]]
        return cls(str(data["text"]), int(data["width"]), int(data["height"]), words)


def install_hint(options: OcrOptions) -> str:
    return (
        f"OCR needs Tesseract, which was not found (ocr.tesseract = {options.tesseract!r}): "
        "install it (Debian/Ubuntu: `apt-get install tesseract-ocr`, macOS: `brew install "
        "tesseract`) or set ocr.tesseract to its path; or set ocr.enabled = false"
    )


def page_key(pixels: bytes, size: tuple[int, int], options: OcrOptions) -> str:
    digest = hashlib.sha256(pixels)
    digest.update(f"|{size}|{options.languages}|{options.dpi}|{_CONFIG}|{_CACHE_VERSION}".encode())
    return digest.hexdigest()


def recognise(image: Any, options: OcrOptions) -> tuple[OcrPage, str]:
    """The text of a PIL image (from the cache when this page was read before), and its key.

    Raises :class:`OcrUnavailable` when Tesseract or a language is missing and
    :class:`OcrTimeout` when the page runs past ``ocr.page_seconds``.
    """
    gray = image.convert("L")
    key = page_key(gray.tobytes(), gray.size, options)
    cached = load_cached(options.cache_dir, key)
    if cached is not None:
        return cached, key
    need_time(options.page_seconds)
    angle = skew_angle(gray)
    if angle:
        from PIL import Image

        upright = gray.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
        page = _unrotate(_tesseract(upright, options), angle)
    else:
        page = _tesseract(gray, options)
    _store(options.cache_dir, key, page)
    return page, key


def skew_angle(gray: Any) -> float:
    """The rotation (degrees, counter-clockwise) that levels the page's lines, or 0.0.

    Projection profiles on a small copy: rotated by the right angle, a page of text
    has rows of ink and rows of paper, so the row sums vary the most. Tesseract reads
    a page skewed by a degree or so well, but at 2-3 degrees it can lose whole lines.
    """
    import numpy as np
    from PIL import Image

    scale = 800 / max(gray.size)
    small = gray.resize((max(1, int(gray.width * scale)), max(1, int(gray.height * scale))))
    ink = small.point(lambda v: 255 if v < 128 else 0)

    def spread(angle: float) -> float:
        turned = ink.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0)
        rows = np.asarray(turned, dtype=np.float32).sum(axis=1)
        return float(rows.var())

    level = spread(0.0)
    if level == 0.0:
        return 0.0
    coarse = max((a / 2 for a in range(-_MAX_SKEW * 2, _MAX_SKEW * 2 + 1)), key=spread)
    fine = max((coarse + a / 10 for a in range(-4, 5)), key=spread)
    if abs(fine) < _MIN_SKEW or spread(fine) < level * 1.1:
        return 0.0
    return round(fine, 2)


def _unrotate(page: OcrPage, angle: float) -> OcrPage:
    """Word boxes found on the levelled image, moved back onto the page as it is."""
    import math

    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = page.width / 2, page.height / 2
    words = []
    for at, left, top, width, height in page.words:
        du, dv = left + width / 2 - cx, top + height / 2 - cy
        x, y = cx + du * cos - dv * sin, cy + du * sin + dv * cos
        words.append((at, round(x - width / 2), round(y - height / 2), width, height))
    return OcrPage(page.text, page.width, page.height, words)


def _tesseract(image: Any, options: OcrOptions) -> OcrPage:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = options.tesseract
    try:
        data = pytesseract.image_to_data(
            image,
            lang=options.languages,
            config=_CONFIG,
            timeout=options.page_seconds,
            output_type=pytesseract.Output.DICT,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrUnavailable(install_hint(options)) from exc
    except pytesseract.TesseractError as exc:
        message = str(exc.message if hasattr(exc, "message") else exc)
        if "Failed loading language" in message or "loading language" in message.lower():
            raise OcrUnavailable(
                f"OCR language(s) {options.languages!r} not installed for Tesseract: install "
                "the language packs (Debian/Ubuntu: `apt-get install tesseract-ocr-LANG`, "
                "e.g. tesseract-ocr-deu) or change ocr.languages"
            ) from exc
        raise
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OcrTimeout(
                f"OCR of a page took longer than {options.page_seconds:g} s "
                "(raise ocr.page_seconds, or lower ocr.dpi)"
            ) from exc
        raise
    return assemble(data, image.size)


def assemble(data: dict[str, list[Any]], size: tuple[int, int]) -> OcrPage:
    """Tesseract's words as text: a line per line, a blank line between paragraphs."""
    parts: list[str] = []
    words: list[tuple[int, int, int, int, int]] = []
    length = 0
    last_par: tuple[int, int] | None = None
    last_line: tuple[int, int, int] | None = None
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        if not word or float(data["conf"][i]) < 0:
            continue
        par = (data["block_num"][i], data["par_num"][i])
        line = (*par, data["line_num"][i])
        if last_line is not None:
            separator = "\n\n" if par != last_par else "\n" if line != last_line else " "
            parts.append(separator)
            length += len(separator)
        last_par, last_line = par, line
        box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        words.append((length, *(int(v) for v in box)))  # type: ignore[arg-type]
        parts.append(word)
        length += len(word)
    return OcrPage("".join(parts), size[0], size[1], words)


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.json"


def load_cached(cache_dir: Path | None, key: str) -> OcrPage | None:
    if cache_dir is None:
        return None
    try:
        return OcrPage.from_json(json.loads(_path(cache_dir, key).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not cached yet, or a damaged entry: read the page again


def _store(cache_dir: Path | None, key: str, page: OcrPage) -> None:
    if cache_dir is None:
        return
    target = _path(cache_dir, key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # private, like home
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp"
        ) as handle:
            json.dump(page.to_json(), handle)
        os.replace(handle.name, target)
    except OSError:
        pass  # a cache that cannot be written costs time, never the file


def boxes_in(
    ocr_pages: list[list[Any]], cache_dir: Path, start: int, end: int
) -> list[dict[str, Any]]:
    """The word boxes of the text between ``start`` and ``end`` (offsets in the document's
    text), page by page: ``ocr_pages`` is a document's ``metadata["ocr_pages"]``, rows of
    (page number, offset of the page's text in the document, cache key)."""
    found = []
    for number, offset, key in ocr_pages:
        page = load_cached(cache_dir, key)
        if page is None or offset >= end or offset + len(page.text) <= start:
            continue
        boxes = [list(box) for at, *box in page.words if start <= offset + at < end]
        if boxes:
            found.append(
                {"page": number, "width": page.width, "height": page.height, "boxes": boxes}
            )
    return found

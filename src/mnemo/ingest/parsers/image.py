"""Images (PNG, JPEG, TIFF, WebP, GIF, BMP): their text by OCR, their EXIF as metadata.

A photo's EXIF date (when it was taken) becomes the document's ``date``, which
date filters use instead of the file's modification time; the camera and the
GPS position are kept beside it. Each frame of a multi-page TIFF is a page.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseLimits,
    ParseSkipped,
)
from mnemo.ingest.parsers.ocr import OcrTimeout, recognise

name = "image"
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
}

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _DATETIME, _DATETIME_ORIGINAL = 0x010F, 0x0110, 0x0132, 0x9003


def _open(data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as exc:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise ParseSkipped(
            f"image is over {limit:,.0f} million pixels, too large to read safely "
            "(a decompression bomb?); shrink it to index its text"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        # Skipped, not failed: a picture is not expected to hold text (a PDF or DOCX is).
        raise ParseSkipped(f"not a readable image ({exc}); re-export it to index its text") from exc
    return image


def _date(raw: Any) -> str | None:
    try:
        return datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    return round(-degrees if str(ref).upper() in ("S", "W") else degrees, 6)


def exif_metadata(image: Any) -> dict[str, Any]:
    """Date taken (ISO 8601, local time as the camera wrote it), camera, and GPS position."""
    exif = image.getexif()
    found: dict[str, Any] = {}
    sub = exif.get_ifd(_EXIF_IFD)
    date = _date(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME) or "")
    if date:
        found["date"] = date
    camera = " ".join(
        str(exif.get(tag, "")).strip("\x00 ") for tag in (_MAKE, _MODEL) if exif.get(tag)
    )
    if camera:
        found["camera"] = camera
    gps = exif.get_ifd(_GPS_IFD)
    if gps:
        lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
        if lat is not None and lon is not None:
            found["gps"] = {"lat": lat, "lon": lon}
    return found


def _on_white(image: Any) -> Any:
    """Transparent pixels as white paper (a screenshot's clear background would turn black)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    from PIL import ImageOps, ImageSequence

    image = _open(data)
    metadata = exif_metadata(image)
    options = limits.ocr
    if not options.enabled:
        raise ParseSkipped("OCR is off (ocr.enabled = false); turn it on to index images' text")
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise ParseSkipped(
            f"image has {frames:,} pages, over the limit of {limits.max_pages:,} "
            "(raise ingest.max_pages to index it)"
        )
    builder = DocumentBuilder(limits.max_text_chars)
    ocr_pages: list[list[Any]] = []
    # A GIF's frames are an animation, not pages: its first frame is read.
    pages = ImageSequence.Iterator(image) if image.format == "TIFF" else [image]
    for number, frame in enumerate(pages, start=1):
        upright = _on_white(ImageOps.exif_transpose(frame))
        try:
            page, key = recognise(upright, options)
        except OcrTimeout as exc:
            raise ParseSkipped(str(exc)) from exc
        if frames > 1:
            builder.start_page(number)
        if page.text.strip():
            ocr_pages.append([number, builder.length, key])
            builder.block(page.text)
    parsed = builder.build(title=path.name, markup="text", metadata=metadata)
    if not parsed.text.strip():
        raise ParseSkipped("no text found in the image by OCR")
    parsed.metadata["ocr_pages"] = ocr_pages
    parsed.metadata["ocr"] = options.languages
    return parsed

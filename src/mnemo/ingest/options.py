"""The settings parsers need, as the plain values a worker process receives with each job."""

from __future__ import annotations

from mnemo.config import Settings
from mnemo.ingest.parsers.base import OcrOptions, TranscriptionOptions


def ocr_options(settings: Settings) -> OcrOptions:
    ocr = settings.ocr
    return OcrOptions(
        enabled=ocr.enabled,
        languages=ocr.languages,
        dpi=ocr.dpi,
        page_seconds=ocr.page_seconds,
        tesseract=ocr.tesseract,
        cache_dir=settings.ocr_cache_path,
    )


def transcription_options(settings: Settings) -> TranscriptionOptions:
    t = settings.transcription
    return TranscriptionOptions(
        base_url=t.base_url,
        model=t.model,
        api_key=t.api_key.get_secret_value() if t.api_key is not None else None,
        timeout=t.timeout,
        ffmpeg=t.ffmpeg,
    )

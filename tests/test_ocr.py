"""Scanned PDFs and images read by OCR (Debian's Tesseract, installed by .ci/run)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import docgen
from mnemo import api
from mnemo.config import Settings
from mnemo.ingest.parsers.ocr import boxes_in
from mnemo.retrieval.filters import Filters
from stored import stored

pytestmark = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract is not installed (apt-get install tesseract-ocr; .ci/run installs it)",
)

MINUTES = [
    "Minutes of the harbour board",
    "The lighthouse keeper asked for",
    "new copper lanterns.",
]


def words(text: str) -> str:
    return " ".join(text.lower().split())


def test_scanned_pages_are_read_and_cited_by_page_with_word_boxes(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(chunking={"max_tokens": 16, "overlap_tokens": 0})
    path = docgen.scanned_pdf(
        tmp_path / "mixed.pdf",
        [
            ("text", ["A typed cover page about the harbour budget."]),
            ("scan", MINUTES),
            ("text", ["A typed appendix listing the lantern suppliers."]),
        ],
    )
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    doc, chunks = stored(settings, path)
    text = words(" ".join(c.text for c in chunks))
    assert "typed cover page" in text and "lantern suppliers" in text  # text pages kept
    assert "lighthouse keeper asked for new copper lanterns" in text  # the scan, read
    scanned = next(c for c in chunks if "lighthouse" in c.text.lower())
    assert (scanned.page_start, scanned.page_end) == (2, 2)
    assert [row[0] for row in doc.meta["ocr_pages"]] == [2]

    hits = api.search("copper lanterns", settings, mode="bm25").hits
    assert hits and hits[0].path == str(path) and hits[0].page_start == 2

    # The passage's words can be found on the page image: one box per word, inside the page.
    (page,) = boxes_in(
        doc.meta["ocr_pages"], settings.ocr_cache_path, scanned.char_start, scanned.char_end
    )
    assert page["page"] == 2 and len(page["boxes"]) == len(scanned.text.split())
    for left, top, width, height in page["boxes"]:
        assert (
            0 <= left < left + width <= page["width"] and 0 <= top < top + height <= page["height"]
        )


def test_photo_text_is_indexed_and_filtered_by_the_date_it_was_taken(
    tmp_path: Path, settings: Settings
) -> None:
    path = docgen.photo(
        tmp_path / "board.jpg",
        ["Whiteboard: ship the tide tables", "before the equinox meeting"],
        taken="2019:03:20 09:15:00",
        camera=("Canon", "EOS 5D"),
        gps=(48.8584, 2.2945),
    )
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    doc, chunks = stored(settings, path)
    assert "equinox meeting" in words(chunks[0].text)
    assert doc.media_type == "image/jpeg"
    assert doc.meta["date"] == "2019-03-20T09:15:00"
    assert doc.meta["camera"] == "Canon EOS 5D"
    assert doc.meta["gps"] == pytest.approx({"lat": 48.8584, "lon": 2.2945}, abs=1e-3)

    def found(**dates: datetime) -> bool:
        hits = api.search("tide tables", settings, mode="bm25", filters=Filters(**dates)).hits
        return any(h.path == str(path) for h in hits)

    # The file was written today; the photo was taken in 2019, and filters go by that.
    assert found(modified_before=datetime(2019, 4, 1))
    assert not found(modified_after=datetime(2020, 1, 1))


@pytest.mark.parametrize("suffix", ["png", "tiff", "webp"])
def test_images_of_each_format_are_read(tmp_path: Path, settings: Settings, suffix: str) -> None:
    path = docgen.photo(tmp_path / f"note.{suffix}", ["Buy more basil seeds"])
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    assert "basil seeds" in words(stored(settings, path)[1][0].text)


def test_a_screenshot_with_a_transparent_background_is_read(
    tmp_path: Path, settings: Settings
) -> None:
    from PIL import Image

    text = docgen.text_image(["Deploy the lighthouse firmware on Friday"])
    clear = Image.new("RGBA", text.size, (0, 0, 0, 0))  # type: ignore[attr-defined]
    clear.putalpha(text.point(lambda v: 255 - v))  # type: ignore[attr-defined]
    path = tmp_path / "screenshot.png"
    clear.save(path)  # black text, fully transparent elsewhere (black if alpha is dropped)
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    assert "lighthouse firmware" in words(stored(settings, path)[1][0].text)


def test_a_skewed_scan_is_levelled_and_its_word_boxes_land_on_the_ink(
    tmp_path: Path, settings: Settings
) -> None:
    from PIL import Image

    lines = [
        f"Line {n} of the tide gauge log reads {n * 7} centimetres above the datum at dawn"
        for n in range(14)
    ]
    # An A4 page at 300 dpi turned 2.8 degrees: unlevelled, Tesseract read none of its lines.
    page = docgen.text_image(lines, width=2480, font_size=46).rotate(-2.8, fillcolor=255)  # type: ignore[attr-defined]
    path = tmp_path / "skewed.png"
    page.save(path)
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    doc, chunks = stored(settings, path)
    text = words(" ".join(c.text for c in chunks))
    for n in range(14):  # every line read (a skewed page can lose whole lines)
        assert f"line {n} of the tide gauge log reads {n * 7} centimetres" in text
    (found,) = boxes_in(doc.meta["ocr_pages"], settings.ocr_cache_path, 0, 10**9)
    ink = np.asarray(Image.open(path).convert("L"))
    inside = [ink[t : t + h, x : x + w].mean() for x, t, w, h in found["boxes"]]
    assert float(np.mean(inside)) < 0.8 * float(ink.mean())  # boxes hold ink, not paper


def test_without_tesseract_scans_and_images_are_skipped_with_how_to_install(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(ocr={"tesseract": str(tmp_path / "no-such-tesseract")})
    files = tmp_path / "files"
    files.mkdir()
    scan = docgen.scanned_pdf(files / "scan.pdf", [("scan", MINUTES)])
    image = docgen.photo(files / "note.png", ["Buy more basil seeds"])
    mixed = docgen.scanned_pdf(
        files / "mixed.pdf", [("text", ["A typed cover page."]), ("scan", MINUTES)]
    )
    report = api.add([files], settings)
    assert report.counts == {**report.counts, "skipped": 2, "indexed": 1, "failed": 0}
    for path in (scan, image):
        doc, _ = stored(settings, path)
        assert doc.status == "skipped"
        assert "apt-get install tesseract-ocr" in (doc.reason or "")
        assert "\n" not in (doc.reason or "")
    doc, _ = stored(settings, mixed)  # its typed page is indexed; the scan is reported
    assert "1 scanned page(s) not read" in doc.meta["ocr_warning"]


def test_ocr_off_skips_scans_with_a_reason(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(ocr={"enabled": False})
    path = docgen.scanned_pdf(tmp_path / "scan.pdf", [("scan", MINUTES)])
    api.add([path], settings)
    doc, _ = stored(settings, path)
    assert doc.status == "skipped" and "ocr.enabled" in (doc.reason or "")


def test_a_page_read_once_is_never_read_again(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    (tmp_path / "a").mkdir()
    first = docgen.scanned_pdf(tmp_path / "a" / "scan.pdf", [("scan", MINUTES)])
    assert api.add([first], make_settings()).counts["indexed"] == 1
    # The same pages in another file, with Tesseract gone: read from the cache.
    copy = tmp_path / "b" / "copy.pdf"
    copy.parent.mkdir()
    shutil.copy(first, copy)
    settings = make_settings(ocr={"tesseract": str(tmp_path / "no-such-tesseract")})
    assert api.add([copy], settings).counts["indexed"] == 1
    assert "copper lanterns" in words(" ".join(c.text for c in stored(settings, copy)[1]))


def test_many_scanned_pages_get_time_beyond_the_file_budget(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    # Each page asks for ocr.page_seconds more, so a long scan is not cut at the file's budget.
    settings = make_settings(ingest={"max_parse_seconds": 2.0})  # 5 pages: 10+ s of OCR here
    pages = [("scan", [f"Page {n} of the survey about herons"]) for n in range(1, 6)]
    path = docgen.scanned_pdf(tmp_path / "survey.pdf", pages)
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    _, chunks = stored(settings, path)
    assert "page 5 of the survey" in words(" ".join(c.text for c in chunks))


def test_web_app_highlights_an_ocr_passage_on_the_scanned_page(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from mnemo.server.app import create_app

    settings = make_settings(chunking={"max_tokens": 16, "overlap_tokens": 0})
    path = docgen.scanned_pdf(
        tmp_path / "minutes.pdf", [("text", ["A typed cover page."]), ("scan", MINUTES)]
    )
    assert api.add([path], settings).counts["indexed"] == 1
    doc, chunks = stored(settings, path)
    scanned = next(c for c in chunks if "lighthouse" in c.text.lower())

    def yellow(png: bytes) -> int:
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        return int(((r > 230) & (g > 200) & (b < 150)).sum())

    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        url = f"/ui/page.png?doc={doc.id}&page=2"
        marked = client.get(f"{url}&chunk={scanned.id}")
        plain = client.get(url)
    assert marked.status_code == 200 and marked.headers["content-type"] == "image/png"
    assert yellow(marked.content) > 1000 > yellow(plain.content)

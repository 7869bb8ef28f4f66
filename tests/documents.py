"""Real test documents, written with real libraries (reportlab, pypdf, python-docx)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path


def pdf(
    path: Path,
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    outline: Sequence[tuple[int, int, str]] = (),
) -> Path:
    """A PDF with one list of lines per page; ``outline`` is (level, page index, title)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    if title:
        c.setTitle(title)
    by_page: dict[int, list[tuple[int, str]]] = {}
    for level, page, heading in outline:
        by_page.setdefault(page, []).append((level, heading))
    for index, lines in enumerate(pages):
        for n, (level, heading) in enumerate(by_page.get(index, [])):
            key = f"k{index}-{n}"
            c.bookmarkPage(key)
            c.addOutlineEntry(heading, key, level=level)
        y = 800
        for line in lines:
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def two_column_pdf(path: Path, left: Sequence[str], right: Sequence[str]) -> Path:
    """One page typeset as papers are: the left column, then the right column."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for x, column in ((50, left), (310, right)):
        y = 780
        for line in column:
            c.drawString(x, y, line)
            y -= 14
    c.showPage()
    c.save()
    return path


def image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A 'scanned' PDF: shapes and an image, no text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        c.rect(50, 50, 400, 600, fill=1)
        c.drawImage(ImageReader(io.BytesIO(_tiny_png())), 100, 100, 200, 200)
        c.showPage()
    c.save()
    return path


def _tiny_png() -> bytes:
    """A 2x2 red PNG, encoded with the standard library."""
    import struct
    import zlib

    raw = b"".join(b"\x00" + bytes([200, 30, 30] * 2) for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def encrypted_pdf(path: Path, source: Path, password: str = "s3cret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(source)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def truncated_pdf(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def many_page_pdf(path: Path, pages: int) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for number in range(1, pages + 1):
        c.drawString(72, 720, f"Page {number} of the long manual.")
        c.showPage()
    c.save()
    return path


def docx(path: Path, *, title: str | None = None) -> Path:
    """A Word document with headings, paragraphs, both kinds of lists and a table."""
    import docx as python_docx

    document = python_docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Project Report", level=1)
    document.add_paragraph("This report covers the quarterly results of the lighthouse project.")
    document.add_heading("Findings", level=2)
    document.add_paragraph("Fog reduced visibility on most evenings.")
    document.add_paragraph("First bullet about lenses", style="List Bullet")
    document.add_paragraph("Second bullet about lamps", style="List Bullet")
    document.add_paragraph("Step one: inspect", style="List Number")
    document.add_heading("Budget", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (item, cost) in enumerate([("Item", "Cost"), ("Lens", "1200"), ("Lamp | spare", "80")]):
        table.cell(row, 0).text = item
        table.cell(row, 1).text = cost
    document.add_paragraph("Costs stayed within the plan.")
    document.save(str(path))
    return path


def fake_docx(path: Path) -> Path:
    """A .docx that is a valid zip of something else entirely."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photos/cat.txt", "not a word document")
        archive.writestr("readme.md", "# hello")
    return path


def html_page(path: Path) -> Path:
    article = " ".join(
        f"The harbour lighthouse was built in 18{n:02} and guided ships safely past the reef."
        for n in range(12)
    )
    path.write_text(
        f"""<!doctype html>
<html><head><title>Lighthouse History | Example Site</title></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop our merchandise</a></li></ul></nav>
<header><div class="banner">Subscribe to our newsletter today</div></header>
<main><article>
<h1>Lighthouse History</h1>
<p>{article}</p>
<h2>Keepers</h2>
<p>Keepers lived in the tower with their families and logged every passing vessel by hand.</p>
<p>They trimmed the wicks each night and polished the great lens every morning.</p>
</article></main>
<footer><p>Copyright 2024 Example Site. All rights reserved. Cookie settings.</p></footer>
</body></html>
""",
        encoding="utf-8",
    )
    return path

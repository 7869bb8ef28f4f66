"""Real documents for parser tests, written with the libraries people's files come from.

PDFs with reportlab (encrypted with pypdf), Word files with python-docx, HTML,
Markdown and Obsidian vaults as plain files. Every helper writes into a path the
test owns (under ``tmp_path``) and returns it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

A4_HEIGHT = 842


# -- PDF -------------------------------------------------------------------------


def pdf(
    path: Path,
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    outline: Sequence[tuple[int, int, str]] = (),
) -> Path:
    """One list of lines per page; ``outline`` holds (level, 0-based page, bookmark title)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    if title:
        c.setTitle(title)
    marks: dict[int, list[tuple[int, str]]] = {}
    for level, page, heading in outline:
        marks.setdefault(page, []).append((level, heading))
    for index, lines in enumerate(pages):
        for n, (level, heading) in enumerate(marks.get(index, [])):
            key = f"p{index}-{n}"
            c.bookmarkPage(key)
            c.addOutlineEntry(heading, key, level=level)
        y = A4_HEIGHT - 60
        for line in lines:
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def flowing_pdf(path: Path, pages: Sequence[Sequence[tuple[str, str]]]) -> Path:
    """Text set by reportlab's layout engine, which wraps paragraphs into lines as
    word processors do. Each page is a list of (style, text): style "h" for a
    heading, "p" for a body paragraph, "li" for a bullet item."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    names = {"h": "Heading2", "p": "BodyText", "li": "BodyText"}
    story: list[object] = []
    for index, blocks in enumerate(pages):
        if index:
            story.append(PageBreak())
        for style, text in blocks:
            if style == "li":
                story.append(Paragraph(text, styles[names[style]], bulletText="\u2022"))
            else:
                story.append(Paragraph(text, styles[names[style]]))
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def two_column_pdf(path: Path, left: Sequence[str], right: Sequence[str]) -> Path:
    """One page set as papers are: the left column top to bottom, then the right one."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 9)
    for x, column in ((40, left), (310, right)):
        text = c.beginText(x, A4_HEIGHT - 60)
        for line in column:
            text.textLine(line)
        c.drawText(text)
    c.showPage()
    c.save()
    return path


def long_pdf(path: Path, pages: int) -> Path:
    """Many small pages, each saying its own number (cheap to write: one line a page)."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pageCompression=0)
    for number in range(1, pages + 1):
        c.drawString(72, 720, f"Folio {number} of the service manual.")
        c.showPage()
    c.save()
    return path


def png(width: int = 16, height: int = 16) -> bytes:
    """A small RGB PNG (a red/blue checkerboard), encoded with the standard library."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            row += bytes((200, 30, 30) if (x + y) % 2 else (30, 30, 200))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A 'scan': every page is a raster image plus shapes, with no text layer at all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    image = ImageReader(io.BytesIO(png()))
    for _ in range(pages):
        c.drawImage(image, 40, 100, 500, 700)
        c.rect(60, 60, 200, 20, fill=1)
        c.circle(400, 80, 15, fill=0)
        c.showPage()
    c.save()
    return path


def encrypted_pdf(path: Path, source: Path, password: str = "hunter2") -> Path:
    """``source`` re-written by pypdf, encrypted with a non-empty user password."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def owner_only_pdf(path: Path, source: Path) -> Path:
    """Encrypted with an owner password only: anyone may open and read it."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password="", owner_password="owner-only", algorithm="AES-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def truncated(path: Path, source: Path, keep: float = 0.6) -> Path:
    """The first ``keep`` of ``source``'s bytes, as an interrupted download leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# -- Word ------------------------------------------------------------------------


def report_docx(path: Path, *, title: str | None = None) -> Path:
    """Headings on three levels, paragraphs, bullet and numbered lists and a table."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Harbour Survey", level=1)
    document.add_paragraph("The survey measured silt in the inner harbour during spring.")
    document.add_heading("Method", level=2)
    document.add_paragraph("Divers took cores at twelve stations.")
    document.add_paragraph("Cores were frozen within an hour", style="List Bullet")
    document.add_paragraph("Each core was photographed", style="List Bullet")
    document.add_paragraph("Weigh the sample", style="List Number")
    document.add_paragraph("Dry it for a day", style="List Number")
    document.add_heading("Equipment", level=3)
    document.add_paragraph("A hand corer and a winch were enough.")
    document.add_heading("Results", level=2)
    table = document.add_table(rows=3, cols=3)
    cells = [
        ("Station", "Depth m", "Silt cm"),
        ("North", "4.5", "12"),
        ("Pier | east", "3.0", "30"),
    ]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Silt was deepest by the east pier.")
    document.save(str(path))
    return path


def docx_with(path: Path, build: object) -> Path:
    """A Word file made by ``build(document)``, for one-off structures."""
    import docx

    document = docx.Document()
    build(document)  # type: ignore[operator]
    document.save(str(path))
    return path


def wrap_in_content_control(paragraph: object) -> None:
    """Move a paragraph into a block-level content control (``w:sdt``), as Word templates do."""
    from docx.oxml import OxmlElement

    p = paragraph._p  # type: ignore[attr-defined]
    sdt, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    p.addprevious(sdt)
    sdt.append(content)
    content.append(p)


def zip_of_other_files(path: Path) -> Path:
    """Named .docx, a valid zip, but of holiday photos' captions, not a Word document."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("captions/beach.txt", "Sunset on the beach")
        archive.writestr("index.html", "<p>album</p>")
    return path


# -- HTML ------------------------------------------------------------------------


def article_page(path: Path) -> Path:
    """A web page: navigation, cookie banner and footer around one article."""
    body = " ".join(
        f"Beekeepers in the valley moved {n + 3} hives to the clover fields this week."
        for n in range(10)
    )
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Valley Beekeeping | The Rural Gazette</title></head>
<body>
<header><nav>
  <a href="/">Front page</a> <a href="/sport">Sport results</a> <a href="/shop">Gazette shop</a>
</nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article>
<h1>Valley Beekeeping</h1>
<p>{body}</p>
<h2>Winter losses</h2>
<p>Colonies that wintered under straw lost fewer bees than those left in the open field.</p>
<p>The association will publish the full count of surviving colonies in March.</p>
<h3>Advice for next year</h3>
<p>Feed fondant in January and keep the entrance reducers on until the first warm week.</p>
</article></main>
<footer><p>Copyright 2024 The Rural Gazette. Privacy policy. Terms of use.</p>
<ul><li><a href="/about">About us</a></li><li><a href="/jobs">Careers at the Gazette</a></li></ul>
</footer>
</body></html>
""",
        encoding="utf-8",
    )
    return path


# -- Markdown ----------------------------------------------------------------------


def obsidian_vault(root: Path) -> Path:
    """A small vault: notes with front matter, wikilinks and tags, and its .obsidian/ folder."""
    (root / ".obsidian" / "plugins").mkdir(parents=True)
    (root / ".obsidian" / "workspace.json").write_text('{"main": "Recipes/Bread.md"}')
    (root / ".obsidian" / "plugins" / "notes.md").write_text("# Plugin readme\n\n#plugin-tag\n")
    (root / "Recipes").mkdir()
    (root / "Recipes" / "Bread.md").write_text(
        "---\n"
        "title: Sourdough Bread\n"
        "tags: [baking, recipe]\n"
        "created: 2024-03-02\n"
        "servings: 8\n"
        "---\n"
        "Based on [[Starter]] and [[Flour Guide|the flour guide]]. #kitchen #baking/sourdough\n"
        "\n"
        "![[loaf.jpg]]\n"
        "\n"
        "# Dough\n"
        "\n"
        "Mix flour and water.\n"
        "\n"
        "## Folding\n"
        "\n"
        "Fold every half hour, four times.\n"
        "\n"
        "```bash\n"
        "echo '#not-a-tag [[Not A Link]]'\n"
        "```\n"
        "\n"
        "# Baking\n"
        "\n"
        "Bake at 250 degrees with steam. Use `#inline-code` sparingly.\n",
        encoding="utf-8",
    )
    (root / "Starter.md").write_text(
        "# Starter\n\nFeed it daily with rye flour. #kitchen\n", encoding="utf-8"
    )
    return root


# -- scans and photos --------------------------------------------------------------


def text_image(lines: Sequence[str], *, width: int = 1700, font_size: int = 36) -> object:
    """A white page image (PIL) with ``lines`` printed on it, as a scanner would see them."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_size)  # Pillow's own font: no system fonts needed
    height = max(400, 160 + len(lines) * int(font_size * 1.6))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((100, 100 + n * int(font_size * 1.6)), line, font=font, fill=0)
    return image


def photo(
    path: Path,
    lines: Sequence[str],
    *,
    taken: str | None = None,
    camera: tuple[str, str] | None = None,
    gps: tuple[float, float] | None = None,
) -> Path:
    """A photo of printed text in the format the suffix names, with EXIF as a camera writes it:
    ``taken`` as "YYYY:MM:DD HH:MM:SS", ``camera`` (make, model), ``gps`` (lat, lon)."""
    from PIL import Image

    image = text_image(lines).convert("RGB")  # type: ignore[attr-defined]
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = camera
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
        )
    image.save(path, exif=exif)
    return path


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def scanned_pdf(path: Path, pages: Sequence[tuple[str, Sequence[str]]]) -> Path:
    """Each page is ("text", lines) with a text layer, or ("scan", lines): a picture of
    the lines and no text layer, as a scanner makes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for kind, lines in pages:
        if kind == "scan":
            image = text_image(lines)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")  # type: ignore[attr-defined]
            w, h = image.size  # type: ignore[attr-defined]
            c.drawImage(ImageReader(buffer), 0, A4_HEIGHT - h * 595 / w, 595, h * 595 / w)
        else:
            y = A4_HEIGHT - 60
            for line in lines:
                c.drawString(60, y, line)
                y -= 16
        c.showPage()
    c.save()
    return path


def wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A real WAV: a tone whose pitch steps every few seconds, 16-bit mono."""
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    pitch = 220 + 40 * np.floor(t / 5)
    samples = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return path

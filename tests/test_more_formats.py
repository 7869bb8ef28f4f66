"""Slides, spreadsheets, CSV, e-books, e-mail and notebooks, each written by the library
people's files come from, indexed through the real pipeline."""

from __future__ import annotations

import csv
import mailbox
import zipfile
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from mnemo import api
from mnemo.catalog import Chunk
from mnemo.config import Settings
from mnemo.retrieval.filters import Filters
from stored import index_one, stored


def chunk_with(chunks: list[Chunk], phrase: str) -> Chunk:
    found = [c for c in chunks if phrase in c.text]
    assert found, f"no chunk contains {phrase!r}: {[c.text for c in chunks]}"
    return found[0]


# -- PowerPoint ----------------------------------------------------------------------


def test_pptx_slides_are_sections_and_pages_with_their_notes(
    tmp_path: Path, settings: Settings
) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Quarterly review"
    for title, body, notes in [
        ("Revenue", "Revenue grew by a fifth in the north.", "Mention the new depot."),
        ("Hiring", "Three welders joined the yard.", "Thank the recruiters."),
    ]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    table_slide = deck.slides.add_slide(deck.slide_layouts[5])
    table_slide.shapes.title.text = "Budget"
    table = table_slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for (r, c), value in {(0, 0): "Item", (0, 1): "Cost", (1, 0): "Crane", (1, 1): "4000"}.items():
        table.cell(r, c).text = value
    path = tmp_path / "review.pptx"
    deck.save(str(path))

    doc, chunks = index_one(settings, path)
    assert doc.title == "Quarterly review" and doc.page_count == 3
    hiring = chunk_with(chunks, "welders")
    assert hiring.heading_path == ["Slide 2: Hiring"]
    assert (hiring.page_start, hiring.page_end) == (2, 2)
    assert "Notes: Thank the recruiters." in hiring.text
    assert "Crane | 4000" in chunk_with(chunks, "Crane").text


# -- spreadsheets and CSV --------------------------------------------------------------

HEADER = ["Species", "Wingspan (cm)", "Habitat"]
BIRDS = [["Grey heron", 185, "rivers"], ["Kingfisher", 25, "streams"], ["Osprey", 160, "lakes"]]


def test_xlsx_sheets_are_sections_and_every_row_keeps_its_header(
    tmp_path: Path, make_settings
) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    # Small chunks, so a row far from the header is cut into a chunk of its own.
    settings = make_settings(chunking={"max_tokens": 24, "overlap_tokens": 0})
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Birds"
    for row in [HEADER, *BIRDS]:
        sheet.append(row)
    other = book.create_sheet("Sightings")
    other.append(["Date", "Count"])
    other.append([datetime(2024, 5, 1, 7, 30), "=2+3"])  # a formula: no cached value yet
    path = tmp_path / "birds.xlsx"
    book.save(path)

    doc, chunks = index_one(settings, path)
    osprey = chunk_with(chunks, "Osprey")
    assert "Species: Osprey; Wingspan (cm): 160; Habitat: lakes" in osprey.text
    assert osprey.heading_path == ["Birds"]
    assert chunk_with(chunks, "2024-05-01 07:30").heading_path == ["Sightings"]
    assert doc.meta["sheets"] == 2 and doc.meta["rows"] == 4


def test_ods_sheets_through_odfpy(tmp_path: Path, settings: Settings) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Birds")
    for row in [HEADER, *BIRDS]:
        table_row = TableRow()
        for value in row:
            cell = TableCell()
            cell.addElement(P(text=str(value)))
            table_row.addElement(cell)
        table.addElement(table_row)
    # An empty fill to the sheet's edge, as LibreOffice writes: must not become rows.
    table.addElement(TableRow(numberrowsrepeated=1_048_000))
    document.spreadsheet.addElement(table)
    path = tmp_path / "birds.ods"
    document.save(str(path))

    doc, chunks = index_one(settings, path)
    assert (
        "Species: Kingfisher; Wingspan (cm): 25; Habitat: streams"
        in chunk_with(chunks, "Kingfisher").text
    )
    assert doc.meta["rows"] == 3


def test_csv_rows_keep_their_header(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "birds.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(BIRDS)
    doc, chunks = index_one(settings, path)
    assert "Species: Grey heron; Wingspan (cm): 185; Habitat: rivers" in chunks[0].text
    assert doc.media_type == "text/csv" and doc.meta["rows"] == 3


# -- EPUB ------------------------------------------------------------------------------


def epub(path: Path, chapters: list[tuple[str, str]], title: str) -> Path:
    """An EPUB 3 as e-book tools write it: mimetype first and stored, container, OPF, XHTML."""
    items = "".join(
        f'<item id="c{n}" href="text/ch{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
            f"</metadata><manifest>{items}</manifest><spine>{spine}</spine></package>",
        )
        for n, (heading, body) in enumerate(chapters):
            book.writestr(
                f"OEBPS/text/ch{n}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html>'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
                f"<body><h1>{heading}</h1><p>{body}</p><p>Caf&#233; &amp; more.</p></body></html>",
            )
    return path


def test_epub_chapters_in_reading_order_become_headings(tmp_path: Path, settings: Settings) -> None:
    path = epub(
        tmp_path / "voyage.epub",
        [("The Harbour", "The ship waited for the tide."), ("At Sea", "Albatrosses followed us.")],
        title="A Voyage",
    )
    doc, chunks = index_one(settings, path)
    assert doc.title == "A Voyage" and doc.media_type == "application/epub+zip"
    text = "\n".join(c.text for c in chunks)
    assert text.index("waited for the tide") < text.index("Albatrosses")
    assert chunk_with(chunks, "Albatrosses").heading_path == ["At Sea"]
    assert "Café & more." in text


# -- e-mail ----------------------------------------------------------------------------


def message(subject: str, body: str, date: str, attachment: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, "Ada <ada@example.org>", "bob@example.org"
    msg["Date"] = date
    msg.set_content(body)
    if attachment:
        msg.add_attachment(
            b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=attachment
        )
    return msg


def test_eml_subject_people_date_and_attachments(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "invoice.eml"
    path.write_bytes(
        message(
            "Invoice for the crane",
            "Please pay the crane invoice by Friday.",
            "Tue, 04 Jun 2019 10:00:00 +0000",
            attachment="invoice-42.pdf",
        ).as_bytes()
    )
    report = api.add([path], settings)  # the attachment is no real PDF: failed on its own
    assert report.counts["indexed"] == 1 and report.counts["failed"] == 1, report.outcomes
    doc, chunks = stored(settings, path)
    assert doc.title == "Invoice for the crane" and doc.media_type == "message/rfc822"
    assert doc.meta["from"] == "Ada <ada@example.org>" and doc.meta["to"] == "bob@example.org"
    assert doc.meta["date"] == "2019-06-04T10:00:00+00:00"
    assert doc.meta["attachments"] == ["invoice-42.pdf"]
    text = "\n".join(c.text for c in chunks)
    assert "pay the crane invoice" in text and "Attachments: invoice-42.pdf" in text

    def found(**dates: datetime) -> bool:
        hits = api.search("crane invoice", settings, mode="bm25", filters=Filters(**dates)).hits
        return bool(hits)

    assert found(modified_before=datetime(2019, 7, 1)) and not found(
        modified_after=datetime(2020, 1, 1)
    )


def test_mbox_messages_become_sections(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(str(path))
    box.add(message("Boat trip", "The boat leaves at dawn.", "Mon, 01 Jul 2019 08:00:00 +0000"))
    box.add(
        message("Re: Boat trip", "From the pier, bring a coat.", "Mon, 01 Jul 2019 09:00:00 +0000")
    )
    box.flush()
    box.close()
    doc, chunks = index_one(settings, path)
    assert doc.meta["messages"] == 2
    assert chunk_with(chunks, "bring a coat").heading_path == ["Re: Boat trip"]
    assert chunk_with(chunks, "leaves at dawn").heading_path == ["Boat trip"]


# -- notebooks ---------------------------------------------------------------------------


def test_notebook_markdown_code_and_outputs(tmp_path: Path, settings: Settings) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Tide analysis\n\n## Loading\n\nWe load the gauge readings."),
            new_code_cell(
                "# a comment, not a heading\nreadings = load('gauge.csv')\nprint(len(readings))",
                outputs=[new_output("stream", name="stdout", text="8760\n")],
            ),
            new_code_cell(
                "readings.max()",
                outputs=[
                    new_output("execute_result", data={"text/plain": "4.2"}, execution_count=2)
                ],
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
    )
    path = tmp_path / "tides.ipynb"
    nbformat.write(notebook, str(path))
    doc, chunks = index_one(settings, path)
    assert doc.title == "Tide analysis"
    text = "\n".join(c.text for c in chunks)
    assert "```python\n# a comment, not a heading\nreadings = load('gauge.csv')" in text
    assert "8760" in text and "4.2" in text
    assert chunk_with(chunks, "gauge.csv").heading_path == ["Tide analysis", "Loading"]


def test_damaged_files_of_each_format_get_a_reason(tmp_path: Path, settings: Settings) -> None:
    for name in ("deck.pptx", "book.xlsx", "sheet.ods", "novel.epub"):
        (tmp_path / "bad").mkdir(exist_ok=True)
        (tmp_path / "bad" / name).write_bytes(b"PK\x03\x04 this is not really a zip")
    (tmp_path / "bad" / "notes.ipynb").write_text('{"cells": [')
    report = api.add([tmp_path / "bad"], settings)
    assert report.counts["failed"] == 5, report.outcomes
    for outcome in report.outcomes:
        assert outcome.reason and "\n" not in outcome.reason and "Traceback" not in outcome.reason


# -- hostile files -----------------------------------------------------------------------


def test_epub_entity_bomb_is_not_expanded(tmp_path: Path, settings: Settings) -> None:
    path = epub(tmp_path / "bomb.epub", [("Boom", "x")], title="Bomb")
    laughs = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    chapter = (
        f'<?xml version="1.0"?><!DOCTYPE html [{laughs}]>'
        "<html><body><h1>Boom</h1><p>Quiet harbour. &a9;</p></body></html>"
    )
    armed = tmp_path / "armed.epub"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(armed, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, chapter if info.filename.endswith("ch0.xhtml") else data)
    _doc, chunks = index_one(settings, armed)
    text = "\n".join(c.text for c in chunks)
    assert "Quiet harbour" in text and "lol" not in text and len(text) < 1000


def test_image_decompression_bomb_is_skipped_before_decoding(
    tmp_path: Path, settings: Settings
) -> None:
    from PIL import Image

    path = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000), 1).save(path)  # 400 Mpixels, a few hundred KB on disk
    report = api.add([path], settings)
    assert report.counts["skipped"] == 1, report.outcomes
    (outcome,) = report.outcomes
    assert "too large to read safely" in (outcome.reason or "")

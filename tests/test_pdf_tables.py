"""Tables in PDFs: found on the page, written as Markdown, kept with their header in
the chunks; search finds a row and the passage says what its columns are."""

from __future__ import annotations

from pathlib import Path

from mnemo import api
from mnemo.config import Settings
from stored import index_one

HEADER = ["Element", "Symbol", "Atomic number", "Melting point (K)"]
ELEMENTS = [
    ("Hydrogen", "H", "1", "14"),
    ("Helium", "He", "2", "1"),
    ("Lithium", "Li", "3", "454"),
    ("Beryllium", "Be", "4", "1560"),
    ("Boron", "B", "5", "2349"),
    ("Carbon", "C", "6", "3823"),
]
PROSE = (
    "The periodic table orders the chemical elements by atomic number; the measured "
    "melting points below come from a handbook kept in the laboratory library. "
)


def table_pdf(path: Path, rows: list[tuple[str, ...]], *, prose: int = 3) -> Path:
    """Prose, a captioned table with a rule under its header, more prose (reportlab)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    table = Table([HEADER, *rows], repeatRows=1)
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 1, colors.black)]))
    story = [
        Paragraph(PROSE * prose, styles["Normal"]),
        Spacer(1, 12),
        Paragraph("Table 1: Melting points of the light elements.", styles["Normal"]),
        Spacer(1, 6),
        table,
        Spacer(1, 12),
        Paragraph("The lighter elements melt at far lower temperatures.", styles["Normal"]),
    ]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def test_a_pdf_table_becomes_a_markdown_table_in_one_chunk_with_its_header(
    tmp_path: Path, settings: Settings
) -> None:
    path = table_pdf(tmp_path / "elements.pdf", ELEMENTS)
    doc, chunks = index_one(settings, path)
    assert doc.meta["tables"] == 1
    hits = api.search("Beryllium", settings, mode="bm25").hits
    assert hits, "no hit for a table row"
    passage = hits[0].text
    assert "| Element | Symbol | Atomic number | Melting point (K) |" in passage
    assert "| Beryllium | Be | 4 | 1560 |" in passage
    # The whole table is one chunk, apart from the prose around it.
    table_chunks = [c for c in chunks if "| Hydrogen |" in c.text]
    assert len(table_chunks) == 1 and "| Carbon | C | 6 | 3823 |" in table_chunks[0].text
    assert table_chunks[0].text.startswith("Table 1: Melting points of the light elements.")
    assert "periodic table orders" not in table_chunks[0].text
    assert table_chunks[0].page_start == 1


def test_a_long_pdf_table_is_cut_between_rows_each_chunk_with_the_header(
    tmp_path: Path, make_settings: object
) -> None:
    settings = make_settings(chunking={"max_tokens": 96, "overlap_tokens": 8})  # type: ignore[operator]
    rows = [(f"Isotope {n}", f"X{n}", str(n), str(1000 + 37 * n)) for n in range(1, 41)]
    path = table_pdf(tmp_path / "isotopes.pdf", rows, prose=1)
    _, chunks = index_one(settings, path)
    pieces = [c for c in chunks if "| Isotope " in c.text]
    assert len(pieces) > 2, [c.text for c in chunks]
    for piece in pieces:
        # On page 1 the caption comes first; page 2 has the table's rest (its header
        # repeated by reportlab) and no caption.
        table = piece.text.removeprefix("Table 1: Melting points of the light elements.\n\n")
        assert table.startswith("| Element | Symbol | Atomic number | Melting point (K) |")
        assert all(line.startswith("|") for line in table.splitlines())
    assert pieces[0].text.startswith("Table 1: Melting points")
    assert pieces[1].text.startswith("Table 1: Melting points")  # repeated with the header
    every_row = "\n".join(piece.text for piece in pieces)
    for n in range(1, 41):
        assert f"| Isotope {n} | X{n} | {n} | {1000 + 37 * n} |" in every_row
    hit = api.search("Isotope 33", settings, mode="bm25").hits[0]
    assert "| Isotope 33 | X33 | 33 | 2221 |" in hit.text and "| Element |" in hit.text


def test_two_column_prose_is_not_taken_for_a_table(tmp_path: Path, settings: Settings) -> None:
    """Each line holds two boxes far apart, as a table's row would, but of prose."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "columns.pdf"
    page = canvas.Canvas(str(path), pagesize=A4)
    page.setFont("Helvetica", 9)
    for n in range(14):  # row by row: the left line, then the right one at the same height
        y = A4[1] - 60 - 12 * n
        page.drawString(40, y, f"Left column line {n} talks of the harbour and its {n} cranes.")
        page.drawString(310, y, f"Right line {n} is about the ferry, see Table 2 for times.")
    page.showPage()
    page.save()
    doc, chunks = index_one(settings, path)
    assert "tables" not in doc.meta
    assert not any("| ---" in c.text for c in chunks)
    assert "harbour" in chunks[0].text


def test_a_long_markdown_table_in_a_note_keeps_its_header_in_every_chunk(
    tmp_path: Path, make_settings: object
) -> None:
    settings = make_settings(chunking={"max_tokens": 80, "overlap_tokens": 8})  # type: ignore[operator]
    rows = "\n".join(f"| Ferry {n} | Pier {n % 7} | {6 + n % 12}:{n % 6}0 |" for n in range(60))
    note = tmp_path / "ferries.md"
    note.write_text(
        f"# Timetable\n\nThe summer ferries.\n\n| Boat | Pier | Leaves |\n|:--|--|--:|\n{rows}\n"
    )
    _, chunks = index_one(settings, note)
    pieces = [c for c in chunks if "| Ferry " in c.text]
    assert len(pieces) > 3
    assert all(p.text.startswith("| Boat | Pier | Leaves |\n|:--|--|--:|\n| Ferry") for p in pieces)
    assert all(p.heading_path == ["Timetable"] for p in pieces)
    hit = api.search("Ferry 47", settings, mode="bm25").hits[0]
    assert "| Ferry 47 | Pier 5 | 17:50 |" in hit.text and hit.text.startswith("| Boat |")

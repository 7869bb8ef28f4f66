"""Each format through the real pipeline: what a user finds in the catalog afterwards."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import documents as make
from mnemo import api
from mnemo.catalog import Catalog, Chunk, Document
from mnemo.config import Settings


def indexed(settings: Settings, path: Path) -> tuple[Document, list[Chunk]]:
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        doc = session.scalars(select(Document).where(Document.path == str(path))).one()
        chunks = list(
            session.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.ordinal))
        )
        return doc, chunks


def one(settings: Settings, path: Path) -> tuple[Document, list[Chunk]]:
    report = api.add([path], settings)
    assert report.counts["indexed"] == 1, report.outcomes
    return indexed(settings, path)


# -- PDF -------------------------------------------------------------------------


def test_pdf_pages_title_and_outline(tmp_path: Path, settings: Settings) -> None:
    pages = [
        ["Introduction to tides.", "The moon pulls the oceans."],
        ["Spring tides happen at full moon."],
        ["Neap tides happen at quarter moon.", "Sailors plan around them."],
    ]
    path = make.pdf(
        tmp_path / "tides.pdf",
        pages,
        title="All About Tides",
        outline=[(0, 0, "Introduction"), (0, 1, "Kinds of tide"), (1, 2, "Neap tides")],
    )
    doc, chunks = one(settings, path)
    assert doc.title == "All About Tides" and doc.page_count == 3
    assert doc.media_type == "application/pdf"
    # With one chunk per section here, each passage cites the page it is on.
    spring = next(c for c in chunks if "Spring tides" in c.text)
    neap = next(c for c in chunks if "Neap tides happen" in c.text)
    assert (spring.page_start, spring.page_end) == (2, 2)
    assert (neap.page_start, neap.page_end) == (3, 3)
    assert neap.heading_path == ["Kinds of tide", "Neap tides"]
    assert spring.heading_path == ["Kinds of tide"]


def doc_text(settings: Settings, path: Path) -> str:
    return "\n".join(c.text for c in indexed(settings, path)[1])


def test_pdf_chunk_spanning_pages_cites_both(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(chunking={"max_tokens": 500, "overlap_tokens": 0})
    path = make.pdf(tmp_path / "span.pdf", [["alpha line one"], ["beta line two"], ["gamma three"]])
    _, chunks = one(settings, path)
    assert len(chunks) == 1
    assert (chunks[0].page_start, chunks[0].page_end) == (1, 3)


def test_two_column_page_reads_left_column_first(tmp_path: Path, settings: Settings) -> None:
    left = [f"Left column sentence {i} about glaciers." for i in range(20)]
    right = [f"Right column sentence {i} about volcanoes." for i in range(20)]
    path = make.two_column_pdf(tmp_path / "paper.pdf", left, right)
    assert api.add([path], settings).counts["indexed"] == 1
    text = doc_text(settings, path)
    positions = [text.index(line) for line in left + right]
    assert positions == sorted(positions)  # columns are not interleaved line by line


def test_encrypted_pdf_fails_with_reason(tmp_path: Path, settings: Settings) -> None:
    plain = make.pdf(tmp_path / "plain.pdf", [["secret plans"]])
    locked = make.encrypted_pdf(tmp_path / "locked.pdf", plain)
    plain.unlink()
    report = api.add([locked], settings)
    (failed,) = report.failed
    assert failed.path == str(locked) and "encrypted PDF" in (failed.reason or "")


def test_image_only_pdf_is_skipped_with_reason(tmp_path: Path, settings: Settings) -> None:
    path = make.image_only_pdf(tmp_path / "scan.pdf")
    report = api.add([path], settings)
    assert report.counts["skipped"] == 1 and report.exit_code == 0
    (doc,) = api.documents(settings)
    assert doc.status == "skipped" and "no text layer" in (doc.reason or "")


def test_truncated_pdf_fails_with_reason(tmp_path: Path, settings: Settings) -> None:
    good = make.pdf(tmp_path / "good.pdf", [["some text"]] * 3)
    bad = make.truncated_pdf(tmp_path / "bad.pdf", good)
    good.unlink()
    (failed,) = api.add([bad], settings).failed
    assert "corrupt or truncated PDF" in (failed.reason or "")


def test_page_limit(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(ingest={"max_pages": 5})
    path = make.many_page_pdf(tmp_path / "long.pdf", 8)
    api.add([path], settings)
    (doc,) = api.documents(settings)
    assert doc.status == "skipped"
    assert "8 pages, over the limit of 5" in (doc.reason or "") and "ingest.max_pages" in (doc.reason or "")


# -- DOCX ------------------------------------------------------------------------


def test_docx_structure(tmp_path: Path, settings: Settings) -> None:
    path = make.docx(tmp_path / "report.docx")
    doc, chunks = one(settings, path)
    assert doc.title == "Project Report"
    text = "\n".join(c.text for c in chunks)
    assert "- First bullet about lenses\n- Second bullet about lamps" in text
    assert "1. Step one: inspect" in text
    assert "| Item | Cost |\n|---|---|\n| Lens | 1200 |\n| Lamp \\| spare | 80 |" in text
    budget = next(c for c in chunks if "Lens" in c.text)
    assert budget.heading_path == ["Project Report", "Budget"]
    findings = next(c for c in chunks if "Fog reduced" in c.text)
    assert findings.heading_path == ["Project Report", "Findings"]


def test_docx_core_title_wins(tmp_path: Path, settings: Settings) -> None:
    doc, _ = one(settings, make.docx(tmp_path / "t.docx", title="Official Title"))
    assert doc.title == "Official Title"


def test_docx_that_is_another_zip_fails(tmp_path: Path, settings: Settings) -> None:
    path = make.fake_docx(tmp_path / "fake.docx")
    (failed,) = api.add([path], settings).failed
    assert "not a valid Word (.docx) file" in (failed.reason or "")


# -- Markdown --------------------------------------------------------------------


def test_obsidian_vault(tmp_path: Path, settings: Settings) -> None:
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / ".obsidian" / "app.json").write_text("{}")
    (vault / "Daily").mkdir()
    (vault / "Daily" / "2024-05-01.md").write_text(
        "---\ntitle: Monday\ntags: [journal, 'daily']\ncreated: 2024-05-01\n---\n"
        "Met [[Alice Smith|Alice]] about [[Project X#Risks]]. #meeting #project/x\n\n"
        "![[diagram.png]]\n\n# Notes\n\n## Follow-up\n\nCall the supplier.\n\n"
        "```python\nprint('#not-a-tag [[not a link]]')\n```\n"
    )
    (vault / "Project X.md").write_text("# Project X\n\n## Risks\n\nBudget overrun.\n")
    api.add([vault], settings)
    docs = {Path(d.path).name: d for d in api.documents(settings)}
    assert set(docs) == {"2024-05-01.md", "Project X.md"}  # .obsidian/ is hidden
    daily = docs["2024-05-01.md"]
    assert daily.title == "Monday"
    assert daily.tags == ["journal", "daily", "meeting", "project/x"]
    doc, chunks = indexed(settings, Path(daily.path))
    assert doc.meta["links"] == ["Alice Smith", "Project X"]
    assert doc.meta["embeds"] == ["diagram.png"]
    assert doc.meta["front_matter"]["created"] == "2024-05-01"
    follow = next(c for c in chunks if "supplier" in c.text)
    assert follow.heading_path == ["Notes", "Follow-up"]
    assert not any("title: Monday" in c.text for c in chunks)  # front matter is metadata


def test_markdown_title_falls_back_to_first_heading(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "note.md"
    path.write_text("Intro line.\n\n# Real Title\n\nBody.\n")
    doc, chunks = one(settings, path)
    assert doc.title == "Real Title"
    assert chunks[0].heading_path == [] and "Intro line." in chunks[0].text


def test_broken_front_matter_keeps_the_text(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n# Heading\n\nBody text.\n")
    doc, chunks = one(settings, path)
    assert "front matter is not valid YAML" in doc.meta["warning"]
    assert any("Body text." in c.text for c in chunks)


# -- HTML ------------------------------------------------------------------------


def test_html_main_content_without_chrome(tmp_path: Path, settings: Settings) -> None:
    path = make.html_page(tmp_path / "page.html")
    doc, chunks = one(settings, path)
    text = "\n".join(c.text for c in chunks)
    assert doc.title == "Lighthouse History"
    assert "guided ships safely past the reef" in text and "polished the great lens" in text
    for chrome in ("Shop our merchandise", "newsletter", "Cookie settings"):
        assert chrome not in text
    keepers = next(c for c in chunks if "logged every passing vessel" in c.text)
    assert keepers.heading_path == ["Lighthouse History", "Keepers"]


def test_tiny_html_keeps_its_text(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "tiny.htm"
    path.write_text("<html><head><title>Tiny</title></head><body><p>Just one line.</p></body></html>")
    doc, chunks = one(settings, path)
    assert doc.title == "Tiny" and "Just one line." in chunks[0].text


# -- Text ------------------------------------------------------------------------


def test_text_like_files(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "notes.txt").write_text("Plain text notes.\n")
    (root / "guide.rst").write_text("Guide\n=====\n\nRestructured text.\n")
    (root / "tool.py").write_text("def answer():\n    return 42\n")
    (root / "Makefile").write_text("all:\n\techo build\n")
    (root / "LICENSE").write_text("Permission is hereby granted.\n")
    report = api.add([root], settings)
    assert report.counts["indexed"] == 5, report.outcomes  # (CSV is a table: test_more_formats)
    assert {d.media_type for d in api.documents(settings)} == {"text/plain"}


def test_latin1_text_is_decoded(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Le café était très animé à Noël, où l'on mangea des crêpes.\n".encode("latin-1"))
    doc, chunks = one(settings, path)
    assert "café était très animé à Noël" in chunks[0].text
    assert doc.meta["encoding"] != "utf-8"


def test_utf16_with_bom(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("Notes from Windows: naïve façade.\n".encode("utf-16"))
    _, chunks = one(settings, path)
    assert "naïve façade" in chunks[0].text

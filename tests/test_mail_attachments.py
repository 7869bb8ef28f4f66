"""E-mail attachments become documents of their own, under a virtual path below their
message, parsed by their own format's parser, cited with the message's subject, linked
to it in the note graph, and kept in step with it by sync."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog, Document
from mnemo.catalog.models import Edge
from mnemo.config import Settings
from stored import stored


def pdf_bytes(tmp_path: Path, line: str) -> bytes:
    from docgen import pdf

    return pdf(tmp_path / "made.pdf", [[line]]).read_bytes()


def docx_bytes(tmp_path: Path) -> bytes:
    from docgen import report_docx

    return report_docx(tmp_path / "made.docx").read_bytes()


def message(subject: str, body: str, *attachments: tuple[str, bytes, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, "Ada <ada@example.org>", "bob@example.org"
    msg["Date"] = "Tue, 04 Jun 2019 10:00:00 +0000"
    msg.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        if maintype == "text":
            msg.add_attachment(data.decode(), subtype=subtype, filename=name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def documents(settings: Settings) -> dict[str, Document]:
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        return {d.path: d for d in session.scalars(select(Document))}


def attachment_edges(settings: Settings) -> list[tuple[str, str | None]]:
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        rows = session.execute(
            select(Edge.source_id, Edge.target_id).where(Edge.kind == "attachment")
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


PDF_MIME, DOCX_MIME = (
    "application/pdf",
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)


def test_eml_attachments_are_documents_linked_to_the_message(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    path = folder / "survey.eml"
    path.write_bytes(
        message(
            "Harbour survey results",
            "The report and the minutes are attached.",
            (
                "report.pdf",
                pdf_bytes(tmp_path, "Sediment cores showed zinc near the dock."),
                PDF_MIME,
            ),
            ("survey.docx", docx_bytes(tmp_path), DOCX_MIME),
            ("minutes.txt", b"The committee approved the dredging budget.", "text/plain"),
        ).as_bytes()
    )
    report = api.add([folder], settings)
    assert report.counts["indexed"] == 4, report.outcomes
    base = str(path)
    pdf_path = f"{base}#attachments/report.pdf"
    assert {o.path for o in report.outcomes} >= {
        base,
        pdf_path,
        f"{base}#attachments/survey.docx",
        f"{base}#attachments/minutes.txt",
    }
    doc, chunks = stored(settings, Path(pdf_path))
    assert doc.title == "report.pdf (attached to 'Harbour survey results')"
    assert doc.media_type == "application/pdf" and doc.meta["attached_to"] == base
    assert chunks[0].page_start == 1

    hits = api.search("zinc", settings, mode="bm25").hits
    assert hits and hits[0].path == pdf_path
    assert hits[0].title == "report.pdf (attached to 'Harbour survey results')"
    assert (
        api.search("silt east pier", settings, mode="bm25")
        .hits[0]
        .path.endswith("#attachments/survey.docx")
    )
    assert api.search("dredging budget", settings, mode="bm25").hits[0].path.endswith("minutes.txt")
    message_doc, _ = stored(settings, path)
    edges = attachment_edges(settings)
    assert len(edges) == 3 and all(source == message_doc.id for source, _ in edges)
    assert doc.id in {target for _, target in edges}

    # An unchanged message is not read again, and its attachments stay.
    again = api.sync(settings)
    assert again.counts["unchanged"] == 1 and again.counts["indexed"] == 0, again.outcomes
    assert pdf_path in documents(settings)

    # The message loses an attachment: its document goes; the others are kept.
    path.write_bytes(
        message(
            "Harbour survey results",
            "Only the minutes now.",
            ("minutes.txt", b"The committee approved the dredging budget.", "text/plain"),
        ).as_bytes()
    )
    changed = api.sync(settings)
    removed = {o.path for o in changed.outcomes if o.outcome == "removed"}
    assert removed == {pdf_path, f"{base}#attachments/survey.docx"}, changed.outcomes
    assert set(documents(settings)) == {base, f"{base}#attachments/minutes.txt"}
    assert not api.search("zinc", settings, mode="bm25").hits
    assert len(attachment_edges(settings)) == 1

    # The message is moved: its attachment moves with it, nothing is read again.
    moved = folder / "archive" / "survey.eml"
    moved.parent.mkdir()
    path.rename(moved)
    after_move = api.sync(settings)
    assert after_move.counts["indexed"] == 0, after_move.outcomes
    assert set(documents(settings)) == {str(moved), f"{moved}#attachments/minutes.txt"}

    # The message is deleted: its attachments go with it.
    moved.unlink()
    gone = api.sync(settings)
    assert gone.counts["removed"] == 2, gone.outcomes
    assert documents(settings) == {}


def test_mbox_attachments_are_named_by_message_and_unreadable_ones_get_a_reason(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    path = folder / "archive.mbox"
    box = mailbox.mbox(str(path))
    box.add(message("Boat trip", "The boat leaves at dawn."))
    box.add(
        message(
            "Re: Boat trip",
            "Tide tables attached.",
            ("tides.pdf", pdf_bytes(tmp_path, "High water at the pier is at noon."), PDF_MIME),
            ("broken.pdf", b"%PDF-1.4 not really", PDF_MIME),
            ("photo.xyz", b"\x00\x01\x02binary", "application/octet-stream"),
            ("tides.pdf", pdf_bytes(tmp_path, "Low water comes at six."), PDF_MIME),
        )
    )
    box.flush()
    box.close()
    report = api.add([folder], settings)
    outcomes = {o.path: o for o in report.outcomes}
    tides = f"{path}#messages/2/attachments/tides.pdf"
    assert outcomes[tides].outcome == "indexed"
    assert outcomes[f"{path}#messages/2/attachments/broken.pdf"].outcome == "failed"
    assert "PDF" in (outcomes[f"{path}#messages/2/attachments/broken.pdf"].reason or "")
    skipped = outcomes[f"{path}#messages/2/attachments/photo.xyz"]
    assert skipped.outcome == "skipped" and skipped.reason
    assert outcomes[f"{path}#messages/2/attachments/4/tides.pdf"].outcome == "indexed"
    hit = api.search("high water pier noon", settings, mode="bm25").hits[0]
    assert hit.path == tides and hit.title == "tides.pdf (attached to 'Re: Boat trip')"

    # Removing the mailbox's document removes the documents of its attachments.
    from mnemo import Library

    with Library(settings) as library:
        library.remove_document(str(path))
    assert not [p for p in documents(settings) if p.startswith(str(path))]
    assert not api.search("high water pier noon", settings, mode="bm25").hits

"""Resurfacing: notes from this day in earlier years, and notes related to what was
opened lately (the documents cited in recent conversations) but not seen since."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Conversation, Document, Turn, document_time
from mnemo.graph.related import related
from mnemo.insights.duplicates import DocRef


@dataclass(frozen=True)
class Resurfaced:
    document: DocRef
    why: str


def resurface(
    session: Session, collection_id: int, today: date, *, limit: int = 10
) -> list[Resurfaced]:
    out: list[Resurfaced] = []
    docs = list(
        session.scalars(
            select(Document).where(
                Document.collection_id == collection_id, Document.status == "indexed"
            )
        )
    )
    for doc in sorted(docs, key=lambda d: d.path):
        when = datetime.fromtimestamp(document_time(doc.meta, doc.mtime_ns)).date()
        if (when.month, when.day) == (today.month, today.day) and when.year < today.year:
            years = today.year - when.year
            out.append(
                Resurfaced(
                    DocRef(doc.id, doc.path, doc.title),
                    f"on this day {years} year{'s' if years > 1 else ''} ago",
                )
            )
    opened: list[str] = []
    for citations in session.scalars(
        select(Turn.citations)
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(Conversation.collection_id == collection_id)
        .order_by(Turn.created_at.desc())
        .limit(20)
    ):
        for cited in citations or []:
            doc_id = cited.get("document_id") if isinstance(cited, dict) else None
            if doc_id and doc_id not in opened:
                opened.append(doc_id)
    seen = {r.document.document_id for r in out} | set(opened)
    for doc_id in opened[:5]:
        doc = session.get(Document, doc_id)
        if doc is None:
            continue
        found = related(session, doc, limit=3)
        for conn in found.links + found.backlinks + found.similar:
            if conn.document_id not in seen:
                seen.add(conn.document_id)
                out.append(
                    Resurfaced(
                        DocRef(conn.document_id, conn.path, conn.title),
                        f"related to {doc.title or doc.path}, which you asked about",
                    )
                )
    return out[:limit]

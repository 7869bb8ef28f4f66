"""The digest: what changed since a date, grouped by topic, with the older notes each
change connects to; notes linking to missing notes; near-duplicates; orphans.

Proactive but never noisy: every item names the documents it is about and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Document, Edge
from mnemo.insights.duplicates import DocRef, DuplicatePair, near_duplicates
from mnemo.insights.topics import topics

CONNECTING = ("link", "embed", "citation", "semantic")


@dataclass(frozen=True)
class Change:
    document: DocRef
    new: bool  # added since (else changed)
    when: datetime
    connects_to: list[tuple[DocRef, str]]  # older notes, and how (link, semantic ...)


@dataclass(frozen=True)
class TopicChanges:
    topic: str
    changes: list[Change]


@dataclass(frozen=True)
class MissingLinks:
    document: DocRef
    missing: list[str]


@dataclass
class Digest:
    since: datetime
    collection: str
    groups: list[TopicChanges] = field(default_factory=list)
    missing: list[MissingLinks] = field(default_factory=list)
    duplicates: list[DuplicatePair] = field(default_factory=list)
    orphans: list[DocRef] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(len(g.changes) for g in self.groups)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def digest(session: Session, collection_id: int, name: str, since: datetime) -> Digest:
    since = _aware(since)
    out = Digest(since, name)
    docs = {
        d.id: d
        for d in session.scalars(
            select(Document).where(
                Document.collection_id == collection_id, Document.status == "indexed"
            )
        )
    }
    ref = {i: DocRef(i, d.path, d.title) for i, d in docs.items()}
    recent = {i for i, d in docs.items() if _aware(d.updated_at) >= since}
    edges = session.execute(
        select(Edge.source_id, Edge.target_id, Edge.kind, Edge.target).where(
            Edge.collection_id == collection_id
        )
    ).all()
    connects: dict[str, dict[str, str]] = {i: {} for i in recent}
    linked_to: set[str] = set()
    missing: dict[str, list[str]] = {}
    for source, target, kind, name_ in edges:
        if kind in ("link", "embed", "citation") and target is None:
            missing.setdefault(source, []).append(name_)
        if target is None or kind not in CONNECTING:
            continue
        linked_to.add(target)
        if kind == "semantic":
            linked_to.add(source)
        for a, b in ((source, target), (target, source)):
            if a in recent and b in docs and b not in recent:
                how = (
                    "semantic"
                    if kind == "semantic"
                    else ("links to" if a == source else "linked from")
                )
                connects[a].setdefault(b, how)
    topic_of: dict[str, str] = {}
    for topic in topics(session, collection_id):
        for doc in topic.documents:
            topic_of[doc.document_id] = topic.label
    groups: dict[str, list[Change]] = {}
    for doc_id in sorted(recent, key=lambda i: docs[i].path):
        d = docs[doc_id]
        change = Change(
            ref[doc_id],
            new=_aware(d.created_at) >= since,
            when=_aware(d.updated_at),
            connects_to=[
                (ref[o], how)
                for o, how in sorted(connects[doc_id].items(), key=lambda kv: docs[kv[0]].path)
            ],
        )
        groups.setdefault(topic_of.get(doc_id, "unsorted"), []).append(change)
    out.groups = [
        TopicChanges(t, c)
        for t, c in sorted(groups.items(), key=lambda kv: (kv[0] == "unsorted", -len(kv[1])))
    ]
    out.missing = [
        MissingLinks(ref[s], sorted(set(m)))
        for s, m in sorted(
            missing.items(), key=lambda kv: docs[kv[0]].path if kv[0] in docs else ""
        )
        if s in ref
    ]
    out.duplicates = near_duplicates(session, collection_id)
    linking = {s for s, t, k, _ in edges if t is not None and k in CONNECTING}
    out.orphans = sorted(
        (ref[i] for i in docs if i not in linked_to and i not in linking), key=lambda r: r.path
    )
    return out

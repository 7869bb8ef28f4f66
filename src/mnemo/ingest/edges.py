"""Keeping a collection's edges (links, embeds, tags, citations) in step with sync.

An edit rewrites only the edited note's own edges; links elsewhere are looked at
again only when they name a note that was added, moved, renamed or deleted, so
that a note created later turns earlier "missing note" links into real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document, Edge, Source
from mnemo.ingest.links import LinkRef, Note, Resolver, aliases_of, base_name, link_key, link_refs

LINK_KINDS = ("link", "embed")
OWN_KINDS = ("link", "embed", "tag", "citation")
# More names than this changed at once: every link is resolved again (one pass).
_MANY = 300
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.IGNORECASE)
_WORDS = re.compile(r"[^\w]+")
_REFERENCES = re.compile(
    r"^\s*#*\s*(references|bibliography|works cited|literature)\b", re.IGNORECASE | re.MULTILINE
)
# A title shorter than this is too common to count as a citation when found in a reference list.
_MIN_TITLE = 24


@dataclass
class EdgeChanges:
    """What one update did (for reports and benchmarks)."""

    rewritten: int = 0  # documents whose own edges were written again
    resolved_again: int = 0  # links elsewhere looked at again
    edges: int = 0  # edges written
    missing: list[str] = field(default_factory=list)


def _notes(session: Session, collection_id: int) -> dict[str, tuple[Note, dict]]:
    rows = session.execute(
        select(Document.id, Document.path, Document.meta, Source.path)
        .outerjoin(Source, Source.id == Document.source_id)
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )
    notes = {}
    for doc_id, path, meta, root in rows:
        note = Note(doc_id, path, root or "/", tuple(aliases_of(meta)))
        notes[doc_id] = (note, meta or {})
    return notes


def update_edges(
    session: Session,
    collection_id: int,
    changed: Iterable[str],
    removed_paths: Iterable[str] = (),
    *,
    everything: bool = False,
) -> EdgeChanges:
    """Write again the edges of the ``changed`` document ids (and of every document
    with ``everything``), then resolve again the links that name a changed or
    removed document. A removed document's own edges went with it (the catalog
    deletes them); links to it become missing notes here."""
    result = EdgeChanges()
    notes = _notes(session, collection_id)
    resolver = Resolver(n for n, _ in notes.values())
    ids = set(notes) if everything else {i for i in changed if i in notes}
    if ids:
        for batch in _batches(sorted(ids), 500):
            session.execute(delete(Edge).where(Edge.source_id.in_(batch), Edge.kind.in_(OWN_KINDS)))
    rows: list[dict] = []
    for doc_id in ids:
        note, meta = notes[doc_id]
        rows.extend(_own_edges(collection_id, note, meta, resolver))
    if ids:
        rows.extend(_citations(session, collection_id, ids, notes))
    if rows:
        session.execute(insert(Edge), rows)
    result.rewritten, result.edges = len(ids), len(rows)
    if everything:
        return result

    names: set[str] = set()
    for doc_id in ids:
        note, _ = notes[doc_id]
        names.add(base_name(link_key(note.relative)))
        names.update(a.lower() for a in note.aliases)
    names.update(base_name(link_key(p)) for p in removed_paths)
    query = select(Edge.id, Edge.source_id, Edge.target, Edge.target_id).where(
        Edge.collection_id == collection_id, Edge.kind.in_(LINK_KINDS)
    )
    if len(names) <= _MANY:
        named = [Edge.target == n for n in names] + [Edge.target.like(f"%/{n}") for n in names]
        affected = list(ids)
        clauses = named + ([Edge.target_id.in_(affected)] if affected else [])
        if not named and not affected:
            return result
        query = query.where(or_(*clauses))
    for edge_id, source_id, target, target_id in session.execute(query).all():
        if source_id in ids or source_id not in notes:
            continue
        found = resolver.resolve(target, notes[source_id][0])
        new_id = found.id if found is not None and found.id != source_id else None
        if new_id != target_id:
            session.execute(update(Edge).where(Edge.id == edge_id).values(target_id=new_id))
            result.resolved_again += 1
    return result


def _own_edges(collection_id: int, note: Note, meta: dict, resolver: Resolver) -> list[dict]:
    rows = []
    seen: set[tuple[str, str, str | None]] = set()
    for ref in link_refs(meta):
        key = link_key(ref.target)
        if not key or (ref.kind, key, ref.anchor) in seen:
            continue
        seen.add((ref.kind, key, ref.anchor))
        found = resolver.resolve(ref.target, note)
        if found is not None and found.id == note.id:
            continue  # a link to a heading of the same note
        rows.append(_row(collection_id, note.id, found, ref, key))
    for tag in dict.fromkeys(str(t).lower() for t in meta.get("tags") or []):
        rows.append(
            {
                "collection_id": collection_id,
                "source_id": note.id,
                "target_id": None,
                "kind": "tag",
                "origin": "tag",
                "target": tag,
                "anchor": None,
                "weight": 1.0,
            }
        )
    return rows


def _row(collection_id: int, source: str, found: Note | None, ref: LinkRef, key: str) -> dict:
    return {
        "collection_id": collection_id,
        "source_id": source,
        "target_id": found.id if found is not None else None,
        "kind": ref.kind,
        "origin": ref.origin,
        "target": key,
        "anchor": ref.anchor,
        "weight": 1.0,
    }


def _normal(text: str) -> str:
    return " " + _WORDS.sub(" ", text.lower()).strip() + " "


def _citations(
    session: Session, collection_id: int, ids: set[str], notes: dict[str, tuple[Note, dict]]
) -> list[dict]:
    """A PDF's reference list matched to the collection's documents by DOI or title
    (best effort: a title of at least a few words found in the list)."""
    pdfs = set(
        session.scalars(
            select(Document.id).where(
                Document.id.in_(ids), Document.media_type == "application/pdf"
            )
        )
    )
    if not pdfs:
        return []
    titles: dict[str, str] = {}
    dois: dict[str, str] = {}
    for doc_id, title, meta in session.execute(
        select(Document.id, Document.title, Document.meta).where(
            Document.collection_id == collection_id, Document.status == "indexed"
        )
    ):
        if title and len(title) >= _MIN_TITLE:
            titles[_normal(title)] = doc_id
        doi = (meta or {}).get("doi")
        if isinstance(doi, str):
            dois[doi.lower().rstrip(".")] = doc_id
    rows = []
    for doc_id in pdfs:
        text = "\n".join(
            session.scalars(
                select(Chunk.text).where(Chunk.document_id == doc_id).order_by(Chunk.ordinal)
            )
        )
        found = _REFERENCES.search(text)
        if found is None:
            continue
        refs = text[found.end() :]
        cited: dict[str, str] = {}
        for match in _DOI.finditer(refs):
            target = dois.get(match.group(0).lower().rstrip(".,;"))
            if target:
                cited.setdefault(target, "doi")
        plain = _normal(refs)
        for title, target in titles.items():
            if title in plain:
                cited.setdefault(target, "title")
        for target, how in cited.items():
            if target == doc_id:
                continue
            rows.append(
                {
                    "collection_id": collection_id,
                    "source_id": doc_id,
                    "target_id": target,
                    "kind": "citation",
                    "origin": how,
                    "target": link_key(notes[target][0].relative) if target in notes else target,
                    "anchor": None,
                    "weight": 1.0,
                }
            )
    return rows


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

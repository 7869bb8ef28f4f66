"""Keeping a collection's edges (links, embeds, tags, citations) in step with sync.

An edit rewrites only the edited note's own edges; links elsewhere are looked at
again only when they name a note that was added, moved, renamed or deleted, so
that a note created later turns earlier "missing note" links into real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import String, cast, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document, Edge, Source
from mnemo.ingest.links import (
    LinkRef,
    Note,
    Resolver,
    aliases_of,
    base_name,
    file_name_key,
    link_key,
    link_refs,
    wanted_names,
)

LINK_KINDS = ("link", "embed")
OWN_KINDS = ("link", "embed", "tag", "citation")
# More names than this changed at once: every link is resolved again (one pass).
_MANY = 300
# Names looked up in the catalog one clause each up to this many; more: every path is read.
_FEW = 64
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


def _notes(
    session: Session, collection_id: int, ids: Iterable[str] | None = None, *, meta: bool = True
) -> dict[str, tuple[Note, dict]]:
    """Indexed notes by id (all of them, or those of ``ids``), in path order; without
    ``meta`` their aliases and metadata are left out (cheaper)."""
    columns = [Document.id, Document.path, Source.path] + ([Document.meta] if meta else [])
    query = (
        select(*columns)
        .outerjoin(Source, Source.id == Document.source_id)
        .where(Document.collection_id == collection_id, Document.status == "indexed")
    )
    if ids is None:
        batches: Iterable[list[str] | None] = [None]
    else:
        batches = list(_batches(sorted(set(ids)), 500))
    rows = []
    for batch in batches:
        rows.extend(
            session.execute(query if batch is None else query.where(Document.id.in_(batch)))
        )
    notes = {}
    for row in sorted(rows, key=lambda r: (r[1], r[0])):
        doc_id, path, root = row[0], row[1], row[2]
        data = (row[3] or {}) if meta else {}
        notes[doc_id] = (Note(doc_id, path, root or "/", tuple(aliases_of(data))), data)
    return notes


class _Names:
    """Finds notes by file name and by alias without reading every note's metadata: names
    are matched in the catalog (a few at a time), aliases only among the notes that have
    some."""

    def __init__(self, session: Session, collection_id: int) -> None:
        self.session = session
        self.live = (Document.collection_id == collection_id, Document.status == "indexed")
        rows = session.execute(
            select(Document.id, Document.meta).where(
                *self.live, cast(Document.meta, String).like('%"alias%')
            )
        )
        self.aliases = {d: {a.lower() for a in aliases_of(m)} for d, m in rows}
        self.aliases = {d: a for d, a in self.aliases.items() if a}

    def named(self, names: set[str], aliases: set[str]) -> set[str]:
        """Notes of one of these file names (loosely), or with one of these aliases."""
        names = {n for n in names if n}
        query = select(Document.id, Document.path).where(*self.live)
        if names and len(names) <= _FEW and all(n.isascii() for n in names):
            # a superset in SQL (the name anywhere in the path), checked exactly below
            path = func.lower(Document.path)
            query = query.where(or_(*[path.contains(n, autoescape=True) for n in sorted(names)]))
        found = set()
        if names:
            for doc_id, found_path in self.session.execute(query):
                if file_name_key(found_path) in names:
                    found.add(doc_id)
        return found | {d for d, a in self.aliases.items() if a & aliases}


def _narrow_resolver(
    session: Session,
    collection_id: int,
    wanted: list[tuple[str, Note]],
    known: dict[str, tuple[Note, dict]],
    index: _Names,
) -> Resolver:
    """A resolver that knows only the notes the ``wanted`` (target, source) links may
    name: notes of that file name, and notes with that alias. It resolves those links
    exactly as one built from every note would."""
    names: set[str] = set()
    aliases: set[str] = set()
    for target, source in wanted:
        name, alias = wanted_names(target, source)
        if name:
            names.add(name)
        aliases.add(alias)
    ids = index.named(names, aliases)
    found = _notes(session, collection_id, ids - set(known), meta=False)
    notes = []
    for doc_id in ids:
        if doc_id in known:
            notes.append(known[doc_id][0])
        elif doc_id in found:
            note = found[doc_id][0]
            own = tuple(sorted(index.aliases.get(doc_id, ())))
            notes.append(Note(note.id, note.path, note.root, own))
    return Resolver(sorted(notes, key=lambda n: (n.path, n.id)))


def update_edges(
    session: Session,
    collection_id: int,
    changed: Iterable[str],
    removed_paths: Iterable[str] = (),
    *,
    everything: bool = False,
    narrow: bool | None = None,
) -> EdgeChanges:
    """Write again the edges of the ``changed`` document ids (and of every document
    with ``everything``), then resolve again the links that name a changed or
    removed document. A removed document's own edges went with it (the catalog
    deletes them); links to it become missing notes here.

    A few changes (``narrow``, the default under a few hundred) read only the notes the
    affected links may name, so an edit costs what it touches, not the vault's size;
    many changes read every note once."""
    result = EdgeChanges()
    changed = set(changed)
    removed_paths = list(removed_paths)
    if narrow is None:
        narrow = not everything and len(changed) + len(removed_paths) <= _MANY
    if narrow:
        notes = _notes(session, collection_id, changed)
    else:
        notes = _notes(session, collection_id)
    ids = set(notes) if everything else {i for i in changed if i in notes}

    names: set[str] = set()
    for doc_id in ids:
        note, _ = notes[doc_id]
        names.add(base_name(link_key(note.relative)))
        names.update(a.lower() for a in note.aliases)
    names.update(base_name(link_key(p)) for p in removed_paths)
    index = _Names(session, collection_id) if narrow else None
    if not everything and names:
        # a note whose link named itself (kept as no edge) may now mean a namesake
        if index is not None:
            namesakes = index.named({file_name_key(n) for n in names}, names) - ids
            notes.update(_notes(session, collection_id, namesakes))
        else:
            loose = {file_name_key(x) for x in names}
            namesakes = {
                d
                for d, (n, _) in notes.items()
                if file_name_key(n.path) in loose or {a.lower() for a in n.aliases} & names
            }
        ids |= namesakes & set(notes)
    others: list[tuple[int, str, str, str | None]] = []
    if not everything:
        query = select(Edge.id, Edge.source_id, Edge.target, Edge.target_id).where(
            Edge.collection_id == collection_id, Edge.kind.in_(LINK_KINDS)
        )
        named = [Edge.target == n for n in names] + [Edge.target.like(f"%/{n}") for n in names]
        clauses = named + ([Edge.target_id.in_(sorted(ids))] if ids else [])
        if len(names) <= _MANY and clauses:
            others = [tuple(r) for r in session.execute(query.where(or_(*clauses)))]
        elif len(names) > _MANY:
            others = [tuple(r) for r in session.execute(query)]
        others = [r for r in others if r[1] not in ids]

    if narrow:
        sources = _notes(session, collection_id, {r[1] for r in others} - set(notes), meta=False)
        sources.update(notes)
        others = [r for r in others if r[1] in sources]
        wanted = [(ref.target, notes[i][0]) for i in ids for ref in link_refs(notes[i][1])]
        wanted += [(r[2], sources[r[1]][0]) for r in others]
        assert index is not None
        resolver = _narrow_resolver(session, collection_id, wanted, notes, index)
    else:
        sources = notes
        others = [r for r in others if r[1] in sources]
        resolver = Resolver(n for n, _ in notes.values())

    if ids:
        for batch in _batches(sorted(ids), 500):
            session.execute(delete(Edge).where(Edge.source_id.in_(batch), Edge.kind.in_(OWN_KINDS)))
    rows: list[dict] = []
    for doc_id in sorted(ids):
        note, meta = notes[doc_id]
        rows.extend(_own_edges(collection_id, note, meta, resolver))
    if ids:
        rows.extend(_citations(session, collection_id, ids))
    if rows:
        session.execute(insert(Edge), rows)
    result.rewritten, result.edges = len(ids), len(rows)

    for edge_id, source_id, target, target_id in others:
        found = resolver.resolve(target, sources[source_id][0])
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


def _citations(session: Session, collection_id: int, ids: set[str]) -> list[dict]:
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
        cited.pop(doc_id, None)
        notes = _notes(session, collection_id, cited, meta=False)
        for target, how in cited.items():
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

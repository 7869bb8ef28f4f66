"""The wikilinks between a collection's notes: what a note links to, and what links to it.

The Markdown parser records each note's ``[[targets]]`` in ``Document.meta["links"]``;
a target names a note by file name without extension, by path end, or by title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Collection, Document


@dataclass(frozen=True)
class NoteLinks:
    document_id: str
    path: str
    links: list[str] = field(default_factory=list)  # paths of the notes it links to
    unresolved: list[str] = field(default_factory=list)  # targets that name no note
    backlinks: list[str] = field(default_factory=list)  # paths of the notes linking to it


def _names(doc: Document) -> set[str]:
    path = PurePosixPath(doc.path)
    names = {path.stem.lower(), path.name.lower()}
    if doc.title:
        names.add(doc.title.strip().lower())
    return names


def _target(raw: str) -> str:
    return raw.split("|", 1)[0].split("#", 1)[0].strip().lower()


def note_links(session: Session, coll: Collection, doc: Document) -> NoteLinks:
    docs = list(session.scalars(select(Document).where(Document.collection_id == coll.id)))
    by_name: dict[str, Document] = {}
    for other in docs:
        for name in _names(other):
            by_name.setdefault(name, other)
    links, unresolved = [], []
    for raw in (doc.meta or {}).get("links", []):
        target = _target(str(raw))
        found = by_name.get(target) or by_name.get(PurePosixPath(target).name)
        if found is None:
            unresolved.append(str(raw))
        elif found.path not in links:
            links.append(found.path)
    mine = _names(doc)
    backlinks = [
        other.path
        for other in docs
        if other.id != doc.id
        and any(_target(str(t)) in mine for t in (other.meta or {}).get("links", []))
    ]
    return NoteLinks(doc.id, doc.path, links, unresolved, backlinks)

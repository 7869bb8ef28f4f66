"""A document's connections: links, backlinks, shared tags, and close notes not linked yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from mnemo.catalog.models import Document, Edge

LINKING = ("link", "embed", "citation")


@dataclass(frozen=True)
class Connection:
    """Another document and why it is connected."""

    document_id: str
    path: str
    title: str | None
    kind: str  # link, embed, citation, semantic, tag
    why: str
    score: float = 1.0
    anchor: str | None = None


@dataclass
class Related:
    document_id: str
    path: str
    title: str | None
    links: list[Connection] = field(default_factory=list)  # this note links to them
    backlinks: list[Connection] = field(default_factory=list)  # they link to this note
    similar: list[Connection] = field(default_factory=list)  # close, not linked yet
    shared_tags: list[Connection] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # links to notes that do not exist


def _why_link(kind: str, origin: str, anchor: str | None, outgoing: bool) -> str:
    verb = {"link": "links to", "embed": "embeds", "citation": "cites"}[kind]
    how = {
        "wikilink": "wikilink",
        "markdown": "Markdown link",
        "front-matter": "property",
        "doi": "DOI in its references",
        "title": "title in its references",
    }.get(origin, origin)
    where = (
        f" (section {anchor})"
        if anchor and not anchor.startswith("^")
        else (f" (block {anchor})" if anchor else "")
    )
    subject = "this note" if outgoing else "it"
    obj = "it" if outgoing else "this note"
    return f"{subject} {verb} {obj}{where}, by {how}"


def related(session: Session, doc: Document, *, limit: int = 20) -> Related:
    """Everything connected to ``doc``, each with why, strongest first."""
    out = Related(doc.id, doc.path, doc.title)
    other = aliased(Document)
    for edge, path, title in session.execute(
        select(Edge, other.path, other.title)
        .outerjoin(other, other.id == Edge.target_id)
        .where(Edge.source_id == doc.id)
    ):
        if edge.kind in LINKING:
            if edge.target_id is None:
                out.missing.append(edge.target)
            else:
                out.links.append(
                    Connection(
                        edge.target_id,
                        path,
                        title,
                        edge.kind,
                        _why_link(edge.kind, edge.origin, edge.anchor, True),
                        anchor=edge.anchor,
                    )
                )
    for edge, path, title in session.execute(
        select(Edge, other.path, other.title)
        .join(other, other.id == Edge.source_id)
        .where(Edge.target_id == doc.id, Edge.kind.in_(LINKING))
    ):
        out.backlinks.append(
            Connection(
                edge.source_id,
                path,
                title,
                edge.kind,
                _why_link(edge.kind, edge.origin, edge.anchor, False),
                anchor=edge.anchor,
            )
        )
    linked = {c.document_id for c in out.links} | {c.document_id for c in out.backlinks}
    scores: dict[str, float] = {}
    for source_id, target_id, weight in session.execute(
        select(Edge.source_id, Edge.target_id, Edge.weight).where(
            Edge.kind == "semantic",
            (Edge.source_id == doc.id) | (Edge.target_id == doc.id),
        )
    ):
        peer = target_id if source_id == doc.id else source_id
        if peer and peer != doc.id and peer not in linked:
            scores[peer] = max(scores.get(peer, 0.0), weight)
    peers = _documents(session, list(scores))
    for peer, score in sorted(scores.items(), key=lambda kv: -kv[1])[:limit]:
        if peer in peers:
            path, title = peers[peer]
            out.similar.append(
                Connection(
                    peer,
                    path,
                    title,
                    "semantic",
                    f"similar text (cosine {score:.2f}), not linked yet",
                    score,
                )
            )
    mine = aliased(Edge)
    theirs = aliased(Edge)
    shares = (
        select(theirs.source_id, func.count())
        .join(
            mine,
            and_(
                mine.target == theirs.target,
                mine.kind == "tag",
                mine.collection_id == theirs.collection_id,
            ),
        )
        .where(mine.source_id == doc.id, theirs.kind == "tag", theirs.source_id != doc.id)
        .group_by(theirs.source_id)
        .order_by(func.count().desc(), theirs.source_id)
        .limit(limit)
    )
    ranked = [(peer, count) for peer, count in session.execute(shares)]
    tags_of: dict[str, list[str]] = {}
    mine_tags = select(Edge.target).where(Edge.source_id == doc.id, Edge.kind == "tag")
    for peer, tag in session.execute(
        select(Edge.source_id, Edge.target).where(
            Edge.source_id.in_([p for p, _ in ranked]),
            Edge.kind == "tag",
            Edge.target.in_(mine_tags),
        )
    ):
        tags_of.setdefault(peer, []).append(tag)
    peers = _documents(session, [p for p, _ in ranked])
    for peer, count in ranked:
        if peer in peers:
            path, title = peers[peer]
            tags = sorted(tags_of.get(peer, []))
            out.shared_tags.append(
                Connection(
                    peer,
                    path,
                    title,
                    "tag",
                    "shares " + ", ".join("#" + t for t in tags),
                    float(count),
                )
            )
    out.links.sort(key=lambda c: c.path)
    out.backlinks.sort(key=lambda c: c.path)
    out.missing = sorted(set(out.missing))
    return out


def _documents(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(ids), 500):
        for doc_id, path, title in session.execute(
            select(Document.id, Document.path, Document.title).where(
                Document.id.in_(ids[start : start + 500]), Document.status == "indexed"
            )
        ):
            found[doc_id] = (path, title)
    return found

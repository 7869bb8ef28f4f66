"""Turn search hits into numbered, citable passages for an answering prompt.

Hits are taken in rank order. Each adds its own chunk, then up to ``neighbours``
chunks on each side, nearest first, from the same document and section
(identical heading path): a passage never crosses a heading. A side stops at
the first chunk that is missing, already used, or over the budget.

The budget counts ``Chunk.token_count`` of every chunk used (overlap is not
subtracted: slightly conservative). A hit whose own chunk does not fit is
skipped; a later, smaller one may still fit. No chunk is used twice, nor a text
already used (a copy of the file elsewhere). Passages of one section whose
chunks touch become one, keeping the smaller number and the best score.
Consecutive chunks share text (the chunker's overlap), so texts are joined by
character offsets, the shared part once, with a blank line over gaps.
Numbers follow the relevance of the hit a passage grew from: 1..n, no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from mnemo.catalog import Catalog, Chunk, Document
from mnemo.catalog.collections import get_collection
from mnemo.errors import QueryError
from mnemo.retrieval.search import SearchHit


@dataclass(frozen=True)
class ContextPassage:
    number: int  # 1-based citation number, in order of relevance
    document_id: str
    path: str
    title: str | None
    heading_path: list[str]
    page_start: int | None
    page_end: int | None
    chunk_ids: list[str]  # in document order
    text: str  # joined without repeating chunk overlaps
    tokens: int
    score: float  # the best hit's score among its chunks


@dataclass
class _Group:
    """Consecutive chunks (by ordinal) of one document section."""

    number: int
    score: float
    chunks: list[Chunk]  # in document order


def assemble_context(
    catalog: Catalog,
    hits: Sequence[SearchHit],
    *,
    max_tokens: int = 2000,
    neighbours: int = 1,
    collection: str | None = None,
) -> list[ContextPassage]:
    """Passages for ``hits`` within ``max_tokens``; see the module docstring."""
    if max_tokens < 1:
        raise QueryError(f"max_tokens must be at least 1 (got {max_tokens})")
    if neighbours < 0:
        raise QueryError(f"neighbours must be 0 or more (got {neighbours})")
    if not hits:
        return []
    docs, chunks = _load(catalog, {h.document_id for h in hits}, collection)
    by_id = {c.id: c for doc_chunks in chunks.values() for c in doc_chunks.values()}
    used: dict[str, _Group] = {}  # chunk id -> the group it went into
    texts: set[str] = set()
    groups: list[_Group] = []
    spent = 0

    def fits(chunk: Chunk, heading: list[str]) -> bool:
        return (
            chunk.id not in used
            and chunk.text_hash not in texts
            and list(chunk.heading_path or []) == heading
            and spent + chunk.token_count <= max_tokens
        )

    def take(chunk: Chunk, group: _Group, before: bool = False) -> None:
        nonlocal spent
        used[chunk.id] = group
        texts.add(chunk.text_hash)
        spent += chunk.token_count
        group.chunks.insert(0 if before else len(group.chunks), chunk)

    for hit in hits:
        chunk = by_id.get(hit.chunk_id)
        if chunk is not None and chunk.id in used:  # already shown, maybe as a neighbour
            used[chunk.id].score = max(used[chunk.id].score, hit.score)
            continue
        heading = list(chunk.heading_path or []) if chunk is not None else []
        if chunk is None or not fits(chunk, heading):  # not indexed, a copy, or too big
            continue
        group = _Group(len(groups) + 1, hit.score, [])
        groups.append(group)
        take(chunk, group)
        siblings, sides = chunks[chunk.document_id], [-1, 1]
        for _ in range(neighbours):
            for side in list(sides):
                edge = group.chunks[0] if side < 0 else group.chunks[-1]
                near = siblings.get(edge.ordinal + side)
                if near is not None and fits(near, heading):
                    take(near, group, before=side < 0)
                else:
                    sides.remove(side)
    return [
        make_passage(n, g.chunks, docs[g.chunks[0].document_id], g.score)
        for n, g in enumerate(_merge(groups), start=1)
    ]


def join_chunks(parts: Sequence[Chunk]) -> str:
    """Texts of consecutive chunks in document order, their shared text once."""
    text, end = parts[0].text, parts[0].char_end
    for part in parts[1:]:
        if part.char_start < end:
            text += part.text[end - part.char_start :]
        else:
            text += ("\n\n" if part.char_start > end else "") + part.text
        end = max(end, part.char_end)
    return text


def _merge(groups: list[_Group]) -> list[_Group]:
    """Join groups of one document section whose chunks touch; ordered by number."""
    merged: list[_Group] = []
    for group in sorted(groups, key=lambda g: (g.chunks[0].document_id, g.chunks[0].ordinal)):
        last = merged[-1].chunks[-1] if merged else None
        first = group.chunks[0]
        if (
            last is not None
            and last.document_id == first.document_id
            and first.ordinal == last.ordinal + 1
            and last.heading_path == first.heading_path
        ):
            merged[-1].chunks += group.chunks
            merged[-1].number = min(merged[-1].number, group.number)
            merged[-1].score = max(merged[-1].score, group.score)
        else:
            merged.append(group)
    return sorted(merged, key=lambda g: g.number)


def make_passage(
    number: int, parts: Sequence[Chunk], doc: Document, score: float
) -> ContextPassage:
    """A numbered passage of consecutive chunks (document order) of ``doc``."""
    starts = [c.page_start for c in parts if c.page_start is not None]
    ends = [c.page_end for c in parts if c.page_end is not None]
    return ContextPassage(
        number=number,
        document_id=doc.id,
        path=doc.path,
        title=doc.title,
        heading_path=list(parts[0].heading_path or []),
        page_start=min(starts) if starts else None,
        page_end=max(ends) if ends else None,
        chunk_ids=[c.id for c in parts],
        text=join_chunks(parts),
        tokens=sum(c.token_count for c in parts),
        score=score,
    )


def _load(
    catalog: Catalog, document_ids: set[str], collection: str | None
) -> tuple[dict[str, Document], dict[str, dict[int, Chunk]]]:
    """Indexed documents among ``document_ids``, and their chunks by ordinal."""
    docs: dict[str, Document] = {}
    chunks: dict[str, dict[int, Chunk]] = {}
    with catalog.session(readonly=True) as session:
        wanted = get_collection(session, collection).id if collection is not None else None
        # Documents by primary key, collection and status checked here: with them
        # in SQL, SQLite walks every indexed document of the collection instead.
        for doc in session.scalars(select(Document).where(Document.id.in_(document_ids))):
            if doc.status == "indexed" and wanted in (None, doc.collection_id):
                docs[doc.id] = doc
        for chunk in session.scalars(select(Chunk).where(Chunk.document_id.in_(list(docs)))):
            chunks.setdefault(chunk.document_id, {})[chunk.ordinal] = chunk
    return docs, chunks

"""Turn search hits into numbered, citable passages for an answering prompt.

Rules, applied to the hits in rank order:

* A hit contributes its own chunk, then up to ``neighbours`` chunks on each side
  (nearest first, alternating before/after), read from the catalog. Neighbours
  come from the same document and the same section (identical heading path), so
  a passage never crosses a heading; a side stops at the first chunk that is
  missing, already used, from another section, or over the budget.
* The token budget counts ``Chunk.token_count`` of every chunk used (overlap is
  not subtracted: slightly conservative). A hit whose own chunk does not fit is
  skipped; a later, smaller one may still fit.
* No chunk is used twice, and a chunk whose text was already used (a copy of
  the file elsewhere) is skipped. Passages of one document and section whose
  chunks touch or overlap become one passage, keeping the smaller number and
  the best score.
* Consecutive chunks share text (the chunker's overlap); passages are joined by
  character offsets so that text appears once, with a blank line over gaps.
* Numbers follow the relevance of the hit a passage grew from: 1..n, no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from mnemo.catalog import Chunk, Document
from mnemo.config import Settings
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
    """A run of consecutive chunks (by ordinal) of one document section."""

    number: int
    document_id: str
    lo: int
    hi: int
    score: float
    ordinals: set[int] = field(default_factory=set)


def assemble_context(
    settings: Settings,
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
    docs, chunks = _load(settings, {h.document_id for h in hits}, collection)
    by_id = {c.id: c for doc_chunks in chunks.values() for c in doc_chunks.values()}
    used: dict[str, _Group] = {}  # chunk id -> the passage it went into
    hashes: set[str] = set()
    spent = 0
    groups: list[_Group] = []

    def take(chunk: Chunk, group: _Group) -> None:
        nonlocal spent
        used[chunk.id] = group
        hashes.add(chunk.text_hash)
        spent += chunk.token_count
        group.ordinals.add(chunk.ordinal)
        group.lo, group.hi = min(group.lo, chunk.ordinal), max(group.hi, chunk.ordinal)

    for hit in hits:
        chunk = by_id.get(hit.chunk_id)
        if chunk is not None and chunk.id in used:  # already shown, maybe as a neighbour
            used[chunk.id].score = max(used[chunk.id].score, hit.score)
            continue
        if chunk is None or chunk.text_hash in hashes:  # not indexed, or a copy's text
            continue
        if spent + chunk.token_count > max_tokens:
            continue
        group = _Group(len(groups) + 1, chunk.document_id, chunk.ordinal, chunk.ordinal, hit.score)
        groups.append(group)
        take(chunk, group)
        doc_chunks = chunks[chunk.document_id]
        open_sides = {-1: True, 1: True}
        for _ in range(neighbours):
            for side in (-1, 1):
                if not open_sides[side]:
                    continue
                near = doc_chunks.get(group.lo - 1 if side < 0 else group.hi + 1)
                if (
                    near is None
                    or near.id in used
                    or near.text_hash in hashes
                    or list(near.heading_path or []) != list(chunk.heading_path or [])
                    or spent + near.token_count > max_tokens
                ):
                    open_sides[side] = False
                else:
                    take(near, group)
    passages = []
    for number, group in enumerate(_merge(groups, chunks), start=1):
        parts = [chunks[group.document_id][o] for o in sorted(group.ordinals)]
        doc = docs[group.document_id]
        pages_from = [c.page_start for c in parts if c.page_start is not None]
        pages_to = [c.page_end for c in parts if c.page_end is not None]
        passages.append(
            ContextPassage(
                number=number,
                document_id=doc.id,
                path=doc.path,
                title=doc.title,
                heading_path=list(parts[0].heading_path or []),
                page_start=min(pages_from) if pages_from else None,
                page_end=max(pages_to) if pages_to else None,
                chunk_ids=[c.id for c in parts],
                text=join_chunks(parts),
                tokens=sum(c.token_count for c in parts),
                score=group.score,
            )
        )
    return passages


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


def _merge(groups: list[_Group], chunks: dict[str, dict[int, Chunk]]) -> list[_Group]:
    """Join groups of one document section whose ordinals touch; ordered by number."""
    merged: list[_Group] = []
    for group in sorted(groups, key=lambda g: (g.document_id, g.lo)):
        last = merged[-1] if merged else None
        doc = chunks[group.document_id]
        if (
            last is not None
            and last.document_id == group.document_id
            and group.lo <= last.hi + 1
            and doc[group.lo].heading_path == doc[last.hi].heading_path
        ):
            last.ordinals |= group.ordinals
            last.hi, last.number = max(last.hi, group.hi), min(last.number, group.number)
            last.score = max(last.score, group.score)
        else:
            merged.append(group)
    return sorted(merged, key=lambda g: g.number)


def _load(
    settings: Settings, document_ids: set[str], collection: str | None
) -> tuple[dict[str, Document], dict[str, dict[int, Chunk]]]:
    """Indexed documents among ``document_ids`` and their chunks by ordinal."""
    from mnemo.api import open_catalog
    from mnemo.ingest.sources import get_collection

    docs: dict[str, Document] = {}
    chunks: dict[str, dict[int, Chunk]] = {}
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        query = (
            select(Chunk, Document)
            .join(Document, Chunk.document_id == Document.id)
            .where(Document.id.in_(document_ids), Document.status == "indexed")
        )
        if collection is not None:
            query = query.where(Document.collection_id == get_collection(session, collection).id)
        for chunk, doc in session.execute(query):
            docs[doc.id] = doc
            chunks.setdefault(doc.id, {})[chunk.ordinal] = chunk
    return docs, chunks

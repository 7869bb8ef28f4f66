"""Near-duplicate documents: MinHash over word shingles (datasketch), each pair with
its estimated overlap, checked against the exact overlap of the two shingle sets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, Document

_WORD = re.compile(r"\w+")
SHINGLE = 3
PERMUTATIONS = 128
THRESHOLD = 0.7


@dataclass(frozen=True)
class DocRef:
    document_id: str
    path: str
    title: str | None


@dataclass(frozen=True)
class DuplicatePair:
    first: DocRef
    second: DocRef
    similarity: float  # Jaccard overlap of their word shingles


def shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def document_texts(session: Session, collection_id: int) -> dict[str, tuple[DocRef, str]]:
    docs = {
        doc_id: DocRef(doc_id, path, title)
        for doc_id, path, title in session.execute(
            select(Document.id, Document.path, Document.title).where(
                Document.collection_id == collection_id, Document.status == "indexed"
            )
        )
    }
    parts: dict[str, list[str]] = {}
    for doc_id, text in session.execute(
        select(Chunk.document_id, Chunk.text)
        .join(Document, Document.id == Chunk.document_id)
        .where(Document.collection_id == collection_id, Document.status == "indexed")
        .order_by(Chunk.document_id, Chunk.ordinal)
    ):
        parts.setdefault(doc_id, []).append(text)
    return {d: (ref, "\n".join(parts.get(d, []))) for d, ref in docs.items()}


def near_duplicates(
    session: Session, collection_id: int, *, threshold: float = THRESHOLD
) -> list[DuplicatePair]:
    """Pairs of documents whose texts overlap at least ``threshold``, most similar first."""
    from datasketch import MinHash, MinHashLSH

    texts = document_texts(session, collection_id)
    lsh = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    sets: dict[str, set[str]] = {}
    hashes: dict[str, MinHash] = {}
    for doc_id, (_, text) in texts.items():
        found = shingles(text)
        if len(found) < 5:  # too short to call a copy
            continue
        sketch = MinHash(num_perm=PERMUTATIONS, seed=1)
        sketch.update_batch([s.encode() for s in found])
        sets[doc_id], hashes[doc_id] = found, sketch
        lsh.insert(doc_id, sketch)
    pairs: list[DuplicatePair] = []
    seen: set[tuple[str, str]] = set()
    for doc_id, sketch in hashes.items():
        for other in lsh.query(sketch):
            key = (doc_id, other) if doc_id < other else (other, doc_id)
            if other == doc_id or key in seen:
                continue
            seen.add(key)
            a, b = sets[key[0]], sets[key[1]]
            exact = len(a & b) / len(a | b)
            if exact >= threshold:
                pairs.append(DuplicatePair(texts[key[0]][0], texts[key[1]][0], round(exact, 3)))
    pairs.sort(key=lambda p: (-p.similarity, p.first.path))
    return pairs

"""Graph-aware retrieval (``graph.retrieval_weight``; off by default): the notes that
the best hits link to, or that link to them, join the candidates with a weight.

A linked note already among the candidates has ``weight`` times its linking
hit's score added to its own; one that is not joins with that much (its first
passage). Measured in benchmarks/graph.py (docs/benchmarks.md) before being
turned on anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from mnemo.catalog import Catalog, Chunk, Collection
from mnemo.catalog.models import Edge
from mnemo.index import Hit

LINKING = ("link", "embed", "citation")


def expand(
    catalog: Catalog,
    collection: Collection,
    ranked: Sequence[tuple[Hit, dict[str, float]]],
    *,
    weight: float,
    seeds: int,
) -> list[tuple[Hit, dict[str, float]]]:
    """``ranked`` with the seeds' linked notes boosted or added, best first."""
    if weight <= 0 or not ranked:
        return list(ranked)
    top = ranked[:seeds]
    with catalog.session(readonly=True) as session:
        doc_of = dict(
            session.execute(
                select(Chunk.id, Chunk.document_id).where(
                    Chunk.id.in_([hit.chunk_id for hit, _ in ranked])
                )
            ).all()
        )
        seed_score: dict[str, float] = {}
        for hit, _ in top:
            doc = doc_of.get(hit.chunk_id)
            if doc is not None:
                seed_score[doc] = max(seed_score.get(doc, 0.0), hit.score)
        if not seed_score:
            return list(ranked)
        boost: dict[str, float] = {}
        for source, target in session.execute(
            select(Edge.source_id, Edge.target_id).where(
                Edge.collection_id == collection.id,
                Edge.kind.in_(LINKING),
                Edge.target_id.is_not(None),
                Edge.source_id.in_(list(seed_score)) | Edge.target_id.in_(list(seed_score)),
            )
        ):
            for seed, other in ((source, target), (target, source)):
                if seed in seed_score and other != seed:
                    boost[other] = boost.get(other, 0.0) + weight * seed_score[seed]
        present = {doc_of[h.chunk_id] for h, _ in ranked if h.chunk_id in doc_of}
        absent = [d for d in boost if d not in present]
        first: dict[str, str] = {}
        if absent:
            for chunk_id, doc in session.execute(
                select(Chunk.id, Chunk.document_id).where(
                    Chunk.document_id.in_(absent), Chunk.ordinal == 0
                )
            ):
                first[doc] = chunk_id
    out: list[tuple[Hit, dict[str, float]]] = []
    boosted: set[str] = set()
    for hit, scores in ranked:
        doc = doc_of.get(hit.chunk_id)
        extra = boost.get(doc, 0.0) if doc is not None and doc not in boosted else 0.0
        if extra:
            boosted.add(doc)  # type: ignore[arg-type]
            scores = {**scores, "graph": extra}
        out.append((Hit(hit.chunk_id, hit.score + extra), scores))
    for doc, chunk_id in first.items():
        out.append((Hit(chunk_id, boost[doc]), {"graph": boost[doc]}))
    out.sort(key=lambda item: -item[0].score)
    return out

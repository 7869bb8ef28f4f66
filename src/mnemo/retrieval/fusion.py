"""Combining the keyword and the dense ranking into one.

Convex combination of normalised scores is the default: RRF throws the scores
away, and with them how much better the first hit is than the tenth, and it
lost to dense alone on both shared sets (issue 3). benchmarks/retrieval.py
measures both and tunes the weight on msmarco. Keyword scores (BM25) are
min-max normalised per query; dense scores are cosines, whose scale is the
same for every query, so they are min-max normalised with a fixed ceiling of
1 (Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval", 2023).
A passage missing from one list counts that list's lowest score.
"""

from __future__ import annotations

from collections.abc import Sequence

from mnemo.index.base import Hit


def _minmax(hits: Sequence[Hit], ceiling: float | None = None) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h.score for h in hits]
    low = min(scores)
    high = ceiling if ceiling is not None else max(scores)
    span = high - low
    if span <= 0:
        return {h.chunk_id: 1.0 for h in hits}
    return {h.chunk_id: (h.score - low) / span for h in hits}


def convex(keyword: Sequence[Hit], dense: Sequence[Hit], dense_weight: float) -> list[Hit]:
    k_norm = _minmax(keyword)
    d_norm = _minmax(dense, ceiling=1.0)
    fused = {
        cid: dense_weight * d_norm.get(cid, 0.0) + (1 - dense_weight) * k_norm.get(cid, 0.0)
        for cid in k_norm.keys() | d_norm.keys()
    }
    return _ranked(fused)


def rrf(keyword: Sequence[Hit], dense: Sequence[Hit], k: int = 60) -> list[Hit]:
    fused: dict[str, float] = {}
    for hits in (keyword, dense):
        for rank, hit in enumerate(hits, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (k + rank)
    return _ranked(fused)


def _ranked(scores: dict[str, float]) -> list[Hit]:
    # Ties broken by id so that results are the same on every run.
    return [Hit(cid, s) for cid, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]

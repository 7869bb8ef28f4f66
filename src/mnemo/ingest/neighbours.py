"""Semantic neighbours: documents whose passages are close, as edges of kind ``semantic``.

A document's vector is the mean of its chunks' vectors (the active embedder's,
read from the catalog). Two documents are neighbours when their cosine
similarity is among the highest of the collection: the threshold is calibrated
on the collection itself (a high percentile of the similarity of random pairs,
never below a floor), so it suits whichever embedder made the vectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Chunk, CollectionEmbedder, Document, Edge, Embedding

if TYPE_CHECKING:
    import numpy as np

# How many neighbours a document keeps, and the calibration (see docs/benchmarks.md).
TOP_K = 5
PERCENTILE = 99.0
FLOOR = 0.5
_SAMPLE = 4000
_FEW = 50


def document_vectors(session: Session, collection_id: int) -> tuple[list[str], np.ndarray]:
    """Ids and unit-length mean vectors of the collection's embedded documents."""
    import numpy as np

    key = session.scalar(
        select(CollectionEmbedder.key).where(
            CollectionEmbedder.collection_id == collection_id, CollectionEmbedder.state == "active"
        )
    )
    if key is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    rows = session.execute(
        select(Chunk.document_id, Embedding.vector)
        .join(Document, Document.id == Chunk.document_id)
        .join(
            Embedding, (Embedding.embed_hash == Chunk.embed_hash) & (Embedding.embedder_key == key)
        )
        .where(Document.collection_id == collection_id, Document.status == "indexed")
        .order_by(Chunk.document_id)
    )
    ids: list[str] = []
    sums: list[np.ndarray] = []
    for doc_id, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        if ids and ids[-1] == doc_id:
            sums[-1] = sums[-1] + vector
        else:
            ids.append(doc_id)
            sums.append(vector.copy())
    if not ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    matrix = np.vstack(sums)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return ids, matrix / np.maximum(norms, 1e-12)


def calibrated_threshold(matrix: np.ndarray, seed: int = 0) -> float:
    """The similarity above which two documents count as neighbours in this collection."""
    import numpy as np

    n = len(matrix)
    if n < _FEW:  # too few pairs to tell usual from unusual: the floor alone
        return FLOOR
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, _SAMPLE)
    b = rng.integers(0, n, _SAMPLE)
    keep = a != b
    sims = np.einsum("ij,ij->i", matrix[a[keep]], matrix[b[keep]])
    return max(FLOOR, float(np.percentile(sims, PERCENTILE)))


def update_neighbours(
    session: Session, collection_id: int, changed: Iterable[str] | None, *, top_k: int = TOP_K
) -> int:
    """Write again the ``semantic`` edges of the changed documents (all with None).
    Returns the number of edges written."""
    import numpy as np

    ids, matrix = document_vectors(session, collection_id)
    wanted = set(ids) if changed is None else set(changed) & set(ids)
    if changed is None:
        session.execute(
            delete(Edge).where(Edge.collection_id == collection_id, Edge.kind == "semantic")
        )
    elif changed:
        session.execute(
            delete(Edge).where(Edge.source_id.in_(list(set(changed))), Edge.kind == "semantic")
        )
    if not wanted or len(ids) < 2:
        return 0
    threshold = calibrated_threshold(matrix)
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    rows: list[dict] = []
    order = [position[i] for i in sorted(wanted)]
    for start in range(0, len(order), 1024):
        block = order[start : start + 1024]
        sims = matrix[block] @ matrix.T
        for row, i in enumerate(block):
            sims[row, i] = -1.0
        k = min(top_k, len(ids) - 1)
        best = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, i in enumerate(block):
            for j in best[row]:
                score = float(sims[row, j])
                if score >= threshold:
                    rows.append(
                        {
                            "collection_id": collection_id,
                            "source_id": ids[i],
                            "target_id": ids[j],
                            "kind": "semantic",
                            "origin": "embeddings",
                            "target": ids[j],
                            "anchor": None,
                            "weight": round(score, 4),
                        }
                    )
    if rows:
        session.execute(insert(Edge), rows)
    return len(rows)

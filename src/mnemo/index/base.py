"""What every index backend returns, and the interface a backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class Hit:
    """A chunk id with one retriever's score (higher is better)."""

    chunk_id: str
    score: float


class Store(Protocol):
    """A collection's search index: derived from the catalog, rebuildable from it."""

    def replace_documents(
        self, document_ids: Sequence[str], text: pa.Table, vectors: dict[str, pa.Table]
    ) -> None: ...

    def add_vectors(self, embedder_key: str, rows: pa.Table) -> None: ...

    def keyword(self, query: str, where: str | None, limit: int) -> list[Hit]: ...

    def dense(
        self,
        embedder_key: str,
        vector: np.ndarray,
        where: str | None,
        limit: int,
        nprobes: int,
        refine_factor: int,
        exact: bool = False,
    ) -> list[Hit]: ...

    def optimize(self, keep: timedelta) -> None: ...

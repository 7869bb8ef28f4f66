"""What every index backend returns, and the interface a backend implements.

:class:`Store` lists exactly what Mnemo's callers use (the updater that writes,
the health check, search, and collection deletion); a backend that provides it
is registered in :data:`mnemo.registry.STORES` by a factory
``(settings, collection, *, reader) -> Store`` and chosen with ``index.backend``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: The table of every chunk's text and metadata (what keyword search needs).
TEXT = "text"
#: Vector tables are named this prefix + a digest of the embedder's key.
VECTOR_PREFIX = "vectors_"


def vector_table(embedder_key: str) -> str:
    """The name of the table that holds one embedder's vectors."""
    return VECTOR_PREFIX + hashlib.sha256(embedder_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Hit:
    """A chunk id with one retriever's score (higher is better)."""

    chunk_id: str
    score: float


class Store(Protocol):
    """A collection's search index: derived from the catalog, rebuildable from it.

    Tables are named :data:`TEXT` and :func:`vector_table` (one per embedder).
    Failures of the backend are raised as :class:`~mnemo.errors.IndexDamagedError`.
    """

    #: Where the index lives (shown in messages; the health cache is keyed by it).
    root: Path

    # -- inspection (health checks, repairs) ---------------------------------------

    def versions(self) -> dict[str, int]:
        """Each table's current version; any write, compaction or rebuild changes it."""
        ...

    def count(self, table_name: str) -> int:
        """Rows in a table (0 when it does not exist)."""
        ...

    def ids(self, table_name: str) -> set[str]:
        """Chunk ids in a table (empty when it does not exist)."""
        ...

    def vector_tables(self) -> set[str]:
        """Names of the vector tables that exist."""
        ...

    # -- writes -------------------------------------------------------------------

    def replace_documents(
        self, document_ids: Sequence[str], text: pa.Table, vectors: dict[str, pa.Table]
    ) -> None:
        """Make the index hold exactly these rows for these documents."""
        ...

    def add_vectors(self, embedder_key: str, rows: pa.Table) -> None:
        """Add (or replace, by id) one embedder's vectors."""
        ...

    def delete_ids(self, table_name: str, ids: Sequence[str]) -> None:
        """Remove these chunk ids from a table."""
        ...

    def drop_vectors(self, embedder_key: str) -> None:
        """Remove one embedder's vector table."""
        ...

    def drop_table(self, name: str) -> None:
        """Remove a table if it exists."""
        ...

    def drop_all(self) -> None:
        """Remove the whole index; the handle stays usable, on an empty index."""
        ...

    # -- reads --------------------------------------------------------------------

    def keyword(self, query: str, where: str | None, limit: int) -> list[Hit]:
        """BM25 hits (empty before the full-text index exists)."""
        ...

    def dense(
        self,
        embedder_key: str,
        vector: np.ndarray,
        where: str | None,
        limit: int,
        nprobes: int,
        refine_factor: int,
        exact: bool = False,
    ) -> list[Hit]:
        """Nearest vectors by cosine similarity (vectors are unit length)."""
        ...

    # -- maintenance --------------------------------------------------------------

    def ensure_text_index(self) -> None:
        """Build the full-text index if it is missing and there are rows."""
        ...

    def ensure_vector_index(self, embedder_key: str, min_rows: int) -> bool:
        """Build or refresh an approximate vector index once worth it; True if one exists."""
        ...

    def optimize(self, keep: timedelta) -> None:
        """Fold new rows into indexes, compact, delete versions older than ``keep``."""
        ...

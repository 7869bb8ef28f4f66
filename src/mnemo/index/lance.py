"""The embedded index: one LanceDB folder per collection.

``text`` holds every chunk of every indexed document (what keyword search
needs), with LanceDB's native BM25 full-text index; ``vectors_<key>`` holds one
embedder's vectors. Both carry the metadata filters run on. The catalog stays
the source of truth: everything here can be rebuilt from it, vectors included.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemo.config.private import private_dir
from mnemo.errors import IndexDamagedError
from mnemo.index.base import TEXT, VECTOR_PREFIX, Hit, vector_table

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

VECTOR_INDEX_PREFIX = "vector_ivf_"  # + the row count it was trained on
MAX_INDEX_SEGMENTS = 8
# Rust-side warnings (deprecations, "unindexed rows") are not the user's business.
os.environ.setdefault("LANCE_LOG", "error")
logging.getLogger("lance").setLevel(logging.ERROR)
logging.getLogger("lancedb").setLevel(logging.ERROR)


def _metadata_fields() -> list[pa.Field]:
    import pyarrow as pa

    return [
        pa.field("id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("mtime", pa.float64()),
        pa.field("tags", pa.list_(pa.string())),
    ]


def text_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([*_metadata_fields(), pa.field("content", pa.string())])


def vector_schema(dimension: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([*_metadata_fields(), pa.field("vector", pa.list_(pa.float32(), dimension))])


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class LanceStore:
    """The index of one collection, in ``root`` (a folder of Lance tables): the
    built-in ``lancedb`` :class:`~mnemo.index.base.Store`."""

    def __init__(self, root: Path, consistency: timedelta | None = None) -> None:
        """``consistency``: how stale reads may be when another handle (or process)
        writes; ``timedelta(0)`` checks for a newer table version on every read,
        which a handle kept open between searches needs. None never checks (a
        handle that does its own writes)."""
        import lancedb

        self.root = root
        self._consistency = consistency
        with self._errors("open"):
            private_dir(root.parent)  # <home>/index: documents' text, owner-only
            private_dir(root)
            self._db = lancedb.connect(str(root), read_consistency_interval=consistency)
        self._tables: dict[str, Any] = {}

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except IndexDamagedError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:  # LanceDB's errors derive from these
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexDamagedError(
                f"search index {self.root} cannot {action} ({first[:300]}); "
                "run `mnemo reindex` to rebuild it from the catalog (nothing is re-embedded)"
            ) from exc

    # -- tables -------------------------------------------------------------------

    def _names(self) -> set[str]:
        with self._errors("list its tables"):
            return set(self._db.list_tables().tables)

    def _table(self, name: str, schema: pa.Schema | None = None) -> Any | None:
        if name in self._tables:
            return self._tables[name]
        with self._errors(f"open table {name}"):
            if name in self._names():
                table = self._db.open_table(name)
            elif schema is not None:
                table = self._db.create_table(name, schema=schema)
            else:
                return None
        self._tables[name] = table
        return table

    def table_names(self) -> set[str]:
        """Tables on disk now (none when the folder is gone)."""
        if not self.root.is_dir():
            return set()
        return self._names()

    def versions(self) -> dict[str, int]:
        """Each table's current version: any write, compaction or rebuild changes it."""
        found = {}
        for name in sorted(self.table_names()):
            table = self._table(name)
            with self._errors(f"read the version of table {name}"):
                found[name] = int(table.version)  # type: ignore[union-attr]
        return found

    def vector_tables(self) -> set[str]:
        return {n for n in self._names() if n.startswith(VECTOR_PREFIX)}

    def drop_vectors(self, embedder_key: str) -> None:
        self.drop_table(vector_table(embedder_key))

    def drop_table(self, name: str) -> None:
        self._tables.pop(name, None)
        with self._errors(f"drop table {name}"):
            if name in self._names():
                self._db.drop_table(name)

    def drop_all(self) -> None:
        self._tables.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        self.__init__(self.root, self._consistency)  # type: ignore[misc]

    # -- writes -------------------------------------------------------------------

    def replace_documents(
        self, document_ids: Sequence[str], text: pa.Table, vectors: dict[str, pa.Table]
    ) -> None:
        """Make the index hold exactly these rows for these documents."""
        if not document_ids:
            return
        where = f"document_id IN ({_sql_list(document_ids)})"
        for name, rows in [(TEXT, text)] + [(vector_table(k), v) for k, v in vectors.items()]:
            table = self._table(name, rows.schema)
            with self._errors("write"):
                table.delete(where)
                if rows.num_rows:
                    table.add(rows)

    def add_vectors(self, embedder_key: str, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        table = self._table(vector_table(embedder_key), rows.schema)
        with self._errors("write"):
            table.add(rows)

    def delete_ids(self, table_name: str, ids: Sequence[str]) -> None:
        table = self._table(table_name)
        if table is None or not ids:
            return
        with self._errors("write"):
            for start in range(0, len(ids), 2000):
                table.delete(f"id IN ({_sql_list(ids[start : start + 2000])})")

    # -- reads --------------------------------------------------------------------

    def count(self, table_name: str) -> int:
        table = self._table(table_name)
        if table is None:
            return 0
        with self._errors("count rows"):
            return int(table.count_rows())

    def ids(self, table_name: str) -> set[str]:
        table = self._table(table_name)
        if table is None:
            return set()
        with self._errors("read"):
            rows = table.count_rows()
            column = table.search().select(["id"]).limit(rows + 1).to_arrow().column("id")
        return set(column.to_pylist())

    def keyword(self, query: str, where: str | None, limit: int) -> list[Hit]:
        table = self._table(TEXT)
        if table is None or not self._has_index(TEXT, "FTS"):
            return []
        with self._errors("search"):
            builder = table.search(query, query_type="fts").limit(limit).select(["id", "_score"])
            if where:
                builder = builder.where(where, prefilter=True)
            result = builder.to_arrow()
        return _hits(result, "_score", lambda s: s)

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
        table = self._table(vector_table(embedder_key))
        if table is None:
            return []
        with self._errors("search"):
            builder = (
                table.search(vector, vector_column_name="vector")
                .distance_type("dot")
                .limit(limit)
                .select(["id", "_distance"])
            )
            if exact:
                builder = builder.bypass_vector_index()
            else:
                builder = builder.nprobes(nprobes).refine_factor(refine_factor)
            if where:
                builder = builder.where(where, prefilter=True)
            result = builder.to_arrow()
        # LanceDB's "dot" distance is 1 - dot; vectors are unit length, so this is the cosine.
        return _hits(result, "_distance", lambda d: 1.0 - d)

    # -- maintenance --------------------------------------------------------------

    def _has_index(self, table_name: str, kind: str) -> bool:
        table = self._table(table_name)
        if table is None:
            return False
        with self._errors("list its indexes"):
            return any(kind.lower() in str(ix.index_type).lower() for ix in table.list_indices())

    def ensure_text_index(self) -> None:
        from lancedb.index import FTS

        table = self._table(TEXT)
        if table is None or self._has_index(TEXT, "FTS") or table.count_rows() == 0:
            return
        with self._errors("build its full-text index"):
            table.create_index("content", config=FTS(stem=True, remove_stop_words=True))

    def ensure_vector_index(self, embedder_key: str, min_rows: int) -> bool:
        """Build an approximate index once exact search gets slow, and rebuild it
        when it has gone stale; True if one exists.

        Each ``optimize`` folds new rows in as another index segment on the old
        partition centroids, and a query searches every segment. So the index is
        retrained when segments pile up (``MAX_INDEX_SEGMENTS``) or the table has
        doubled since training (partitions would hold twice the rows they were
        sized for). The row count at training is kept in the index's name.
        """
        name = vector_table(embedder_key)
        table = self._table(name)
        if table is None:
            return False
        with self._errors("list its indexes"):
            rows = table.count_rows()
            current = _ivf_indexes(table)
            if current:
                segments = table.index_stats(current[0]).num_indices
                trained = _trained_rows(current[0])
                if segments <= MAX_INDEX_SEGMENTS and trained and rows <= 2 * trained:
                    return True
            elif rows < min_rows:
                return False
        from lancedb.index import IvfSq

        # IVF with int8 scalar quantization, re-scored exactly (refine_factor):
        # recall@10 1.0 where IVF-PQ gave 0.6 on the same data (tests/test_index.py).
        with self._errors("build its vector index"):
            table.create_index(
                "vector",
                # A partition size, not a count, so that partitions stay small
                # whatever the table's size when (re)trained.
                config=IvfSq(distance_type="dot", target_partition_size=1000),
                name=f"{VECTOR_INDEX_PREFIX}{rows}",
                replace=True,
            )
            for old in current:
                if old != f"{VECTOR_INDEX_PREFIX}{rows}":
                    table.drop_index(old)
        return True

    def vector_index(self, embedder_key: str) -> dict[str, Any] | None:
        """The approximate index of an embedder's vectors: name, rows at training,
        segments, rows not yet indexed; None without one."""
        table = self._table(vector_table(embedder_key))
        if table is None:
            return None
        with self._errors("list its indexes"):
            for name in _ivf_indexes(table):
                stats = table.index_stats(name)
                return {
                    "name": name,
                    "trained_rows": _trained_rows(name),
                    "segments": stats.num_indices,
                    "unindexed_rows": stats.num_unindexed_rows,
                }
        return None

    def optimize(self, keep: timedelta) -> None:
        """Fold new rows into the indexes, compact files, delete versions older than ``keep``."""
        for name in self._names():
            table = self._table(name)
            with self._errors("optimize"):
                table.optimize(cleanup_older_than=keep)


def _ivf_indexes(table: Any) -> list[str]:
    """Names of a table's IVF vector indexes (index_type reads "IvfSq", "IvfPq", ...)."""
    return [ix.name for ix in table.list_indices() if "ivf" in str(ix.index_type).lower()]


def _trained_rows(index_name: str) -> int | None:
    """Rows an index was trained on, from its name (None for an index built
    before names carried it: it is rebuilt once)."""
    suffix = index_name.removeprefix(VECTOR_INDEX_PREFIX)
    return int(suffix) if suffix != index_name and suffix.isdigit() else None


def _hits(result: pa.Table, column: str, to_score: Any) -> list[Hit]:
    ids = result.column("id").to_pylist()
    values = result.column(column).to_pylist()
    return [Hit(chunk_id, float(to_score(v))) for chunk_id, v in zip(ids, values, strict=True)]

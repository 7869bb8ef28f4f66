"""The scale-out index: Milvus (a server or cluster), or Milvus Lite in a local file.

Mnemo's tables map to Milvus collections shared by every Mnemo collection,
each Mnemo collection in its own partition:

- ``<prefix>text``: every chunk's text and metadata, with Milvus's built-in
  BM25 function (an analyzer on ``content`` feeding a sparse field), so
  keyword search runs inside Milvus;
- ``<prefix>vectors_<key>``: one embedder's vectors and the same metadata.

Search returns each retriever's list; Mnemo fuses them itself
(:mod:`mnemo.retrieval.fusion`), exactly as for LanceDB, so scores and
``search.dense_weight`` mean the same on both backends. Filters arrive as the
SQL predicate :meth:`~mnemo.retrieval.filters.Filters.where` writes and are
translated into a Milvus boolean expression (:func:`milvus_filter`).

Milvus Lite (``milvus-lite``, a file path as ``index.milvus_uri``) has the
same client API but one process at a time per file, and its analyzer has no
stemmer: "cats" does not find "cat" there, as it does on a server and in
LanceDB.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemo.errors import ConfigError, IndexDamagedError
from mnemo.index.base import TEXT, VECTOR_PREFIX, Hit, vector_table
from mnemo.index.milvus_expr import milvus_filter, milvus_list

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


#: English stop words (Lucene's list, what Milvus's "english" analyzer drops).
STOP_WORDS = [
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "but",
    "by",
    "for",
    "if",
    "in",
    "into",
    "is",
    "it",
    "no",
    "not",
    "of",
    "on",
    "or",
    "such",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "was",
    "will",
    "with",
]
ANALYZER = {
    "tokenizer": "standard",
    "filter": [
        "lowercase",
        {"type": "stop", "stop_words": STOP_WORDS},
        {"type": "stemmer", "language": "english"},  # Milvus Lite ignores it
    ],
}
MAX_CONTENT_BYTES = 65_535
MAX_PATH_BYTES = 8_192
MAX_TAGS = 256
MAX_TAG_BYTES = 512
_DELETE_BATCH = 1_000
_ITERATOR_BATCH = 4_000

#: Milvus Lite partitions this process created empty -> the document ids written
#: to them since. Milvus Lite deletes by filter with a scan of the whole collection
#: (its ``document_id in [...]`` is a query, then a delete by id), so writing a
#: fresh index in batches of 200 documents scanned it 1,000 times at 200,000
#: chunks; a document never written to a fresh partition has nothing to delete.
#: One process at a time opens a Milvus Lite file (its lock), and every writer in
#: this process shares this table, so it is exact; servers always delete.
_FRESH: dict[tuple[str, str, str], set[str]] = {}
_FRESH_LOCK = threading.Lock()


def _install_hint() -> ConfigError:
    return ConfigError(
        "index.backend = milvus needs pymilvus (and milvus-lite for a local file): "
        "pip install 'mnemo[milvus]'"
    )


def partition_name(collection: str) -> str:
    """A Milvus partition name for a Mnemo collection (letters, digits, '_' only)."""
    digest = hashlib.sha256(collection.encode()).hexdigest()[:8]
    return "c_" + re.sub(r"[^A-Za-z0-9_]", "_", collection)[:200] + "_" + digest


def is_local(uri: str) -> bool:
    """A file path (Milvus Lite) rather than a server URL."""
    return "://" not in uri


class MilvusStore:
    """The index of one Mnemo collection in Milvus: the built-in ``milvus``
    :class:`~mnemo.index.base.Store`."""

    def __init__(
        self,
        uri: str,
        collection: str,
        *,
        token: str | None = None,
        prefix: str = "mnemo_",
        index_type: str = "HNSW",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise _install_hint() from exc
        self.uri = uri
        self.local = is_local(uri)
        self.root = Path(uri) if self.local else Path("/milvus") / re.sub(r"^\w+://", "", uri)
        self.collection = collection
        self.partition = partition_name(collection)
        self.prefix = prefix
        self.index_type = index_type
        self.index_params = dict(index_params or {})
        self.search_params = dict(search_params or {})
        self._known: set[str] = set()  # Milvus collections known to exist and be loaded
        if self.local:
            self._client = self._open_lite(uri)
            return
        with self._errors("connect"):
            self._client = MilvusClient(uri=uri, token=token or "")

    def _open_lite(self, uri: str) -> Any:
        from pymilvus import MilvusClient

        if not uri.endswith(".db"):
            raise ConfigError(f"index.milvus_uri: {uri}: a Milvus Lite file must end in .db")
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # Milvus Lite logs its own failures with tracebacks, and its in-process gRPC
        # server logs each call it does not implement: Mnemo reports what matters.
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        logging.getLogger("pymilvus").setLevel(logging.ERROR)  # "failed to get mvccTs"
        try:
            return MilvusClient(uri=uri)
        except Exception as exc:
            if _locked_elsewhere(Path(uri) / "LOCK"):
                raise IndexDamagedError(
                    f"search index {uri} (Milvus Lite) is open in another process; Milvus "
                    "Lite serves one process at a time: stop the other one, or use a Milvus "
                    "server (index.milvus_uri = http://host:19530) for several"
                ) from exc
            raise IndexDamagedError(
                f"search index {uri} (Milvus Lite) cannot open ({exc}); `mnemo reindex` "
                "rebuilds it from the catalog (nothing is re-embedded)"
            ) from exc

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except IndexDamagedError:
            raise
        except Exception as exc:  # pymilvus raises MilvusException and grpc errors
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            first = str(text).strip().splitlines()[0]
            raise IndexDamagedError(
                f"search index {self.uri} (Milvus) cannot {action} ({first[:300]}); "
                "check that Milvus is running, then `mnemo reindex` rebuilds it from the "
                "catalog (nothing is re-embedded)"
            ) from exc

    # -- Milvus collections and partitions -------------------------------------------

    def _milvus_name(self, table: str) -> str:
        return self.prefix + table

    def _exists(self, table: str) -> bool:
        name = self._milvus_name(table)
        with self._errors("list its collections"):
            if name not in self._known:
                if not self._client.has_collection(name):
                    return False
                # A collection another process made is released here until loaded
                # (loading a loaded one is a no-op).
                self._client.load_collection(name)
                self._known.add(name)
            return bool(self._client.has_partition(name, self.partition))

    def _create(self, table: str, dimension: int | None) -> str:
        """The Milvus collection of a table, with this collection's partition, loaded."""
        from pymilvus import DataType, Function, FunctionType

        name = self._milvus_name(table)
        with self._errors(f"create {name}"):
            if name not in self._known and not self._client.has_collection(name):
                schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
                schema.add_field("document_id", DataType.VARCHAR, max_length=512)
                schema.add_field("path", DataType.VARCHAR, max_length=MAX_PATH_BYTES)
                schema.add_field("media_type", DataType.VARCHAR, max_length=256, nullable=True)
                schema.add_field("mtime", DataType.DOUBLE)
                schema.add_field(
                    "tags",
                    DataType.ARRAY,
                    element_type=DataType.VARCHAR,
                    max_capacity=MAX_TAGS,
                    max_length=MAX_TAG_BYTES,
                )
                index = self._client.prepare_index_params()
                if dimension is None:
                    schema.add_field(
                        "content",
                        DataType.VARCHAR,
                        max_length=MAX_CONTENT_BYTES,
                        enable_analyzer=True,
                        analyzer_params=ANALYZER,
                    )
                    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                    schema.add_function(
                        Function(
                            name="bm25",
                            function_type=FunctionType.BM25,
                            input_field_names=["content"],
                            output_field_names=["sparse"],
                        )
                    )
                    index.add_index(
                        "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
                    )
                else:
                    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
                    index.add_index(
                        "vector",
                        index_type=self.index_type,
                        metric_type="IP",  # vectors are unit length: the cosine
                        params=self.index_params,
                    )
                self._client.create_collection(name, schema=schema, index_params=index)
            if not self._client.has_partition(name, self.partition):
                self._client.create_partition(name, self.partition)
                if self.local:
                    with _FRESH_LOCK:
                        _FRESH[self._fresh_key(name)] = set()
            # A new partition of a loaded collection is loaded with it; Milvus Lite
            # loads whole collections only.
            self._client.load_collection(name)
        self._known.add(name)
        return name

    def _fresh_key(self, name: str) -> tuple[str, str, str]:
        return (str(Path(self.uri).resolve()), name, self.partition)

    def _stale(self, name: str, document_ids: Sequence[str]) -> Sequence[str]:
        """Of ``document_ids``, those that may have rows in the table (all of them,
        unless this process made the partition empty); marks them all as written."""
        with _FRESH_LOCK:
            written = _FRESH.get(self._fresh_key(name)) if self.local else None
            if written is None:
                return document_ids
            stale = [d for d in document_ids if d in written]
            written.update(document_ids)
            return stale

    def _mark_written(self, name: str, document_ids: Iterable[str]) -> None:
        if self.local:
            with _FRESH_LOCK:
                written = _FRESH.get(self._fresh_key(name))
                if written is not None:
                    written.update(document_ids)

    def _loaded(self, table: str) -> str | None:
        """The Milvus collection to read a table from (None when it does not exist)."""
        if not self._exists(table):
            return None
        name = self._milvus_name(table)
        return name

    def versions(self) -> dict[str, int]:
        """Milvus keeps no table versions: each partition's row statistic stands in.

        The health check runs before every search and reads counts only, so a
        cheap number that moves with writes is what it needs; an exact
        ``count(*)`` scans the partition (Milvus Lite: about a second at 2,000
        rows on a loaded machine). A server updates the statistic when it seals
        segments, so its health figures may trail writes by seconds.
        """
        found = {}
        for table in sorted(self._tables()):
            with self._errors("read its statistics"):
                stats = self._client.get_partition_stats(self._milvus_name(table), self.partition)
            found[table] = int(stats.get("row_count", 0))
        return found

    def _tables(self) -> set[str]:
        with self._errors("list its collections"):
            names = self._client.list_collections()
        found = set()
        for name in names:
            if not name.startswith(self.prefix):
                continue
            table = name[len(self.prefix) :]
            if (table == TEXT or table.startswith(VECTOR_PREFIX)) and self._exists(table):
                found.add(table)
        return found

    def vector_tables(self) -> set[str]:
        return {t for t in self._tables() if t.startswith(VECTOR_PREFIX)}

    def drop_vectors(self, embedder_key: str) -> None:
        self.drop_table(vector_table(embedder_key))

    def drop_table(self, name: str) -> None:
        """Drop this collection's partition of the table (other collections keep theirs)."""
        if not self._exists(name):
            return
        milvus = self._milvus_name(name)
        with self._errors(f"drop table {name}"):
            if not self.local:  # a server drops released partitions only; Lite has no release
                self._client.release_partitions(milvus, [self.partition])
            self._client.drop_partition(milvus, self.partition)
        with _FRESH_LOCK:
            _FRESH.pop(self._fresh_key(milvus), None)

    def drop_all(self) -> None:
        for table in self._tables():
            self.drop_table(table)

    # -- writes -------------------------------------------------------------------

    def replace_documents(
        self, document_ids: Sequence[str], text: pa.Table, vectors: dict[str, pa.Table]
    ) -> None:
        if not document_ids:
            return
        for table, rows, dimension in [(TEXT, text, None)] + [
            (vector_table(k), v, _dimension(v)) for k, v in vectors.items()
        ]:
            name = self._create(table, dimension)
            stale = self._stale(name, document_ids)
            with self._errors("write"):
                for start in range(0, len(stale), _DELETE_BATCH):
                    batch = stale[start : start + _DELETE_BATCH]
                    self._client.delete(
                        name,
                        filter=f"document_id in {milvus_list(batch)}",
                        partition_name=self.partition,
                    )
                self._insert(name, rows, upsert=False)

    def add_vectors(self, embedder_key: str, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        name = self._create(vector_table(embedder_key), _dimension(rows))
        self._mark_written(name, rows.column("document_id").to_pylist())
        with self._errors("write"):
            self._insert(name, rows, upsert=True)

    def _insert(self, name: str, rows: pa.Table, *, upsert: bool) -> None:
        write = self._client.upsert if upsert else self._client.insert
        for start in range(0, rows.num_rows, 2_000):
            batch = _records(rows.slice(start, 2_000))
            if batch:
                write(name, batch, partition_name=self.partition)

    def delete_ids(self, table_name: str, ids: Sequence[str]) -> None:
        name = self._loaded(table_name)
        if name is None or not ids:
            return
        with self._errors("write"):
            for start in range(0, len(ids), _DELETE_BATCH):
                self._client.delete(
                    name,
                    filter=f"id in {milvus_list(ids[start : start + _DELETE_BATCH])}",
                    partition_name=self.partition,
                )

    # -- reads --------------------------------------------------------------------

    def count(self, table_name: str) -> int:
        name = self._loaded(table_name)
        if name is None:
            return 0
        with self._errors("count rows"):
            result = self._client.query(
                name,
                # An empty filter counts every partition in Milvus Lite.
                filter='id != ""',
                output_fields=["count(*)"],
                partition_names=[self.partition],
                consistency_level="Strong",
            )
        return int(result[0]["count(*)"]) if result else 0

    def ids(self, table_name: str) -> set[str]:
        name = self._loaded(table_name)
        if name is None:
            return set()
        found: set[str] = set()
        with self._errors("read"):
            iterator = self._client.query_iterator(
                name,
                batch_size=_ITERATOR_BATCH,
                filter='id != ""',
                output_fields=["id"],
                partition_names=[self.partition],
                consistency_level="Strong",
            )
            try:
                while batch := iterator.next():
                    found.update(row["id"] for row in batch)
            finally:
                iterator.close()
        return found

    def vectors(self, embedder_key: str) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every (ids, vectors) batch of an embedder's table (exact search, migration)."""
        import numpy as np

        name = self._loaded(vector_table(embedder_key))
        if name is None:
            return
        with self._errors("read"):
            iterator = self._client.query_iterator(
                name,
                batch_size=_ITERATOR_BATCH,
                filter='id != ""',
                output_fields=["id", "vector"],
                partition_names=[self.partition],
                consistency_level="Strong",
            )
            try:
                while batch := iterator.next():
                    ids = [row["id"] for row in batch]
                    matrix = np.asarray([row["vector"] for row in batch], dtype=np.float32)
                    yield ids, matrix
            finally:
                iterator.close()

    def keyword(self, query: str, where: str | None, limit: int) -> list[Hit]:
        name = self._loaded(TEXT)
        if name is None or not query.strip():
            return []
        with self._errors("search"):
            result = self._client.search(
                name,
                data=[query],
                anns_field="sparse",
                limit=limit,
                filter=milvus_filter(where, like_escapes=not self.local),
                output_fields=["id"],
                search_params={"metric_type": "BM25"},
                partition_names=[self.partition],
                consistency_level="Strong",
            )
        # BM25 scores are positive; Milvus Lite reports them negated (as a distance).
        return [Hit(str(hit["id"]), abs(float(hit["distance"]))) for hit in result[0]]

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
        """Nearest vectors by inner product (the cosine: vectors are unit length).

        ``nprobes`` and ``refine_factor`` are LanceDB's; Milvus reads
        ``index.milvus_search_params``. ``exact`` scans every vector here, in
        NumPy (Milvus has no switch to bypass its index): for measuring recall.
        """
        import numpy as np

        name = self._loaded(vector_table(embedder_key))
        if name is None:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if exact:
            if where:
                raise ValueError("exact dense search takes no filter")
            return self._exact(embedder_key, query, limit)
        params = {"metric_type": "IP", "params": dict(self.search_params)}
        if "ef" in params["params"]:
            params["params"]["ef"] = max(int(params["params"]["ef"]), limit)
        with self._errors("search"):
            result = self._client.search(
                name,
                data=[query.tolist()],
                anns_field="vector",
                limit=limit,
                filter=milvus_filter(where, like_escapes=not self.local),
                output_fields=["id"],
                search_params=params,
                partition_names=[self.partition],
                consistency_level="Strong",
            )
        return [Hit(str(hit["id"]), float(hit["distance"])) for hit in result[0]]

    def _exact(self, embedder_key: str, query: np.ndarray, limit: int) -> list[Hit]:
        import numpy as np

        best: list[Hit] = []
        for ids, matrix in self.vectors(embedder_key):
            scores = matrix @ query
            top = np.argsort(-scores)[:limit]
            best.extend(Hit(ids[i], float(scores[i])) for i in top)
            best = sorted(best, key=lambda h: (-h.score, h.chunk_id))[:limit]
        return best

    # -- maintenance --------------------------------------------------------------

    def ensure_text_index(self) -> None:
        """The BM25 index is part of the text collection from its creation."""

    def ensure_vector_index(self, embedder_key: str, min_rows: int) -> bool:
        """Milvus builds the vector index (``index.milvus_index_type``) as rows arrive."""
        return self._exists(vector_table(embedder_key))

    def optimize(self, keep: timedelta) -> None:
        """Ask Milvus to compact (merge segments, purge deleted rows); it keeps no old versions."""
        for table in self._tables():
            with self._errors("optimize"):
                self._client.compact(self._milvus_name(table))

    def close(self) -> None:
        if self.local:  # once the file may be let go, another process may write to it
            root = str(Path(self.uri).resolve())
            with _FRESH_LOCK:
                for key in [k for k in _FRESH if k[0] == root]:
                    del _FRESH[key]
        with self._errors("close"):
            self._client.close()


def _locked_elsewhere(lock: Path) -> bool:
    """Milvus Lite's lock file is held (by another process: this one's own server
    would have been reused rather than failed)."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _dimension(rows: pa.Table) -> int:
    return int(rows.schema.field("vector").type.list_size)


def _records(rows: pa.Table) -> list[dict[str, Any]]:
    import numpy as np

    columns = rows.to_pydict() if "vector" not in rows.column_names else None
    if columns is None:
        plain = rows.drop_columns(["vector"]).to_pydict()
        flat = rows.column("vector").combine_chunks().values.to_numpy(zero_copy_only=False)
        matrix = np.asarray(flat, dtype=np.float32).reshape(rows.num_rows, -1)
        plain["vector"] = list(matrix)
        columns = plain
    out = []
    for i in range(rows.num_rows):
        record = {k: v[i] for k, v in columns.items()}
        record["path"] = _clip(record["path"] or "", MAX_PATH_BYTES)
        record["tags"] = [_clip(t, MAX_TAG_BYTES) for t in (record["tags"] or [])[:MAX_TAGS]]
        if "content" in record:
            record["content"] = _clip(record["content"] or "", MAX_CONTENT_BYTES)
        out.append(record)
    return out


def _clip(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")

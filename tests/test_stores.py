"""One suite over every index store (issue 19): LanceDB and Milvus Lite answer the
same cases the same way: keyword, dense and hybrid search, filters, delete and
re-add, two collections side by side, a crash between the catalog's commit and
the index write healed by the outbox. Real LanceDB, real Milvus Lite in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog
from mnemo.catalog.models import Chunk, Document, IndexPending
from mnemo.config import Settings
from mnemo.index import forget_reader, open_store
from mnemo.index.base import TEXT, Store, vector_table
from mnemo.index.rows import ChunkRow, text_table, vector_table_rows
from mnemo.retrieval.filters import Filters

BACKENDS = ["lancedb", "milvus"]


def _available(backend: str) -> bool:
    if backend != "milvus":
        return True
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if not _available(request.param):
        pytest.skip("pymilvus and milvus-lite are not installed: pip install 'mnemo[milvus]'")
    return request.param


@pytest.fixture
def store_settings(backend: str, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(index={"backend": backend})


DIM = 8
DOCS = {
    "d1": (
        "/home/u/notes/volcano.md",
        "text/markdown",
        ["geo"],
        1_700_000_000.0,
        ["Volcanoes erupt molten lava", "Lava cools into basalt rock"],
    ),
    "d2": (
        "/home/u/notes/bees.md",
        "text/markdown",
        ["bio", "farm"],
        1_710_000_000.0,
        ["Bees pollinate clover fields", "Honey is made from nectar"],
    ),
    "d3": (
        "/home/u/papers/glacier 100%_done.pdf",
        "application/pdf",
        [],
        1_720_000_000.0,
        ["Glaciers carve deep valleys", "Ice sheets advance and retreat"],
    ),
}


def _rows(doc_ids: list[str]) -> list[ChunkRow]:
    return [
        ChunkRow(f"{d}:{i}", d, f"h-{d}-{i}", text, path, media, mtime, tags)
        for d in doc_ids
        for path, media, tags, mtime, texts in [DOCS[d]]
        for i, text in enumerate(texts)
    ]


def _vectors(rows: list[ChunkRow]) -> np.ndarray:
    """One axis per document, a little of a second per chunk: near by document."""
    out = np.zeros((len(rows), DIM), dtype=np.float32)
    for n, row in enumerate(rows):
        out[n, sorted(DOCS).index(row.document_id)] = 1.0
        out[n, 4 + int(row.id.rsplit(":", 1)[1])] = 0.3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _fill(store: Store, doc_ids: list[str]) -> None:
    rows = _rows(doc_ids)
    store.replace_documents(
        doc_ids, text_table(rows), {"k": vector_table_rows(rows, _vectors(rows), DIM)}
    )
    store.ensure_text_index()
    store.ensure_vector_index("k", min_rows=10_000)


def _axis(n: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[n] = 1.0
    return v


def ids(hits: list) -> list[str]:
    return [h.chunk_id for h in hits]


def test_writes_counts_and_reads(store_settings: Settings) -> None:
    store = open_store(store_settings, "default")
    assert store.count(TEXT) == 0 and store.ids(TEXT) == set() and store.vector_tables() == set()
    _fill(store, ["d1", "d2", "d3"])
    every = {f"{d}:{i}" for d in DOCS for i in range(2)}
    assert store.ids(TEXT) == every and store.count(TEXT) == 6
    assert store.vector_tables() == {vector_table("k")}
    assert store.ids(vector_table("k")) == every
    before = store.versions()
    assert set(before) == {TEXT, vector_table("k")}

    # Keyword: BM25 finds the chunk with the word, best first; stop words find nothing.
    assert ids(store.keyword("glaciers valleys", None, 5))[0] == "d3:0"
    assert ids(store.keyword("honey", None, 5)) == ["d2:1"]
    assert store.keyword("the", None, 5) == []
    # Dense: cosine, best first, scores in [-1, 1].
    hits = store.dense("k", _axis(1), None, 3, 32, 4)
    assert ids(hits)[:2] in (["d2:0", "d2:1"], ["d2:1", "d2:0"])
    assert 0.9 < hits[0].score <= 1.0001
    exact = store.dense("k", _axis(1), None, 3, 32, 4, exact=True)
    assert ids(exact)[:2] == ids(hits)[:2]

    # Replacing a document rewrites exactly its rows; others stay.
    rows = _rows(["d1"])[:1]
    store.replace_documents(
        ["d1"], text_table(rows), {"k": vector_table_rows(rows, _vectors(rows), DIM)}
    )
    assert store.count(TEXT) == 5 and "d1:1" not in store.ids(vector_table("k"))
    assert store.versions() != before
    assert ids(store.keyword("basalt", None, 5)) == []

    # Delete and re-add.
    store.delete_ids(TEXT, ["d2:0", "d2:1"])
    store.delete_ids(vector_table("k"), ["d2:0", "d2:1"])
    assert ids(store.keyword("honey", None, 5)) == []
    assert not {"d2:0", "d2:1"} & set(ids(store.dense("k", _axis(1), None, 5, 32, 4)))
    _fill(store, ["d2"])
    assert ids(store.keyword("honey", None, 5)) == ["d2:1"]
    assert store.count(TEXT) == 5

    store.drop_vectors("k")
    assert store.vector_tables() == set() and store.dense("k", _axis(0), None, 3, 32, 4) == []
    store.drop_all()
    assert store.count(TEXT) == 0 and store.keyword("honey", None, 5) == []
    _fill(store, ["d1"])  # the handle stays usable after drop_all
    assert store.count(TEXT) == 2


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(path=["notes/*.md"]), {"d1", "d2"}),
        (Filters(path=["*100%_done.pdf"]), {"d3"}),  # % and _ are literal in a glob
        (Filters(path=["*1000_done.pdf"]), set()),
        (Filters(media_types=["application/pdf"]), {"d3"}),
        (Filters(media_types=["text/*"]), {"d1", "d2"}),
        (Filters(tags=["farm", "geo"]), {"d1", "d2"}),
        (Filters(modified_after=datetime(2024, 1, 1, tzinfo=UTC)), {"d2", "d3"}),
        (
            Filters(media_types=["text/*"], modified_before=datetime(2024, 1, 1, tzinfo=UTC)),
            {"d1"},
        ),
    ],
)
def test_filters_are_pushed_into_the_index(
    store_settings: Settings, filters: Filters, expected: set[str]
) -> None:
    store = open_store(store_settings, "default")
    _fill(store, ["d1", "d2", "d3"])
    where = filters.where()
    keyword = store.keyword("lava honey glaciers ice bees volcanoes", where, 10)
    dense = store.dense("k", np.ones(DIM, dtype=np.float32) / np.sqrt(DIM), where, 10, 32, 4)
    assert {h.chunk_id.split(":")[0] for h in keyword} == expected
    assert {h.chunk_id.split(":")[0] for h in dense} == expected


def test_collections_are_kept_apart(store_settings: Settings) -> None:
    first, second = open_store(store_settings, "one"), open_store(store_settings, "two")
    _fill(first, ["d1", "d2"])
    _fill(second, ["d3"])
    assert ids(second.keyword("lava", None, 5)) == []
    assert ids(first.keyword("lava", None, 5))[0].startswith("d1")
    assert second.count(TEXT) == 2 and first.count(TEXT) == 4
    first.drop_all()
    assert second.count(TEXT) == 2 and ids(second.keyword("glaciers", None, 5)) == ["d3:0"]


# -- through Mnemo: ingestion, hybrid search, delete and re-add, healing ----------------


def write_notes(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    topics = {
        "volcano": "Volcanoes erupt molten lava and ash; basalt forms as lava cools.",
        "bees": "Bees pollinate clover fields and make honey from nectar.",
        "glacier": "Glaciers carve deep valleys as ice sheets advance and retreat.",
    }
    for name, text in topics.items():
        (root / f"{name}.md").write_text(f"# {name.title()}\n\n{text}\n")
    return root


@pytest.fixture
def dense_store_settings(backend: str, home: Path) -> Settings:
    from mnemo.config import load_settings

    return load_settings(home, {"ingest": {"workers": 1}, "index": {"backend": backend}})


def test_hybrid_search_delete_and_re_add(tmp_path: Path, dense_store_settings: Settings) -> None:
    settings = dense_store_settings
    notes = write_notes(tmp_path / "notes")
    report = api.add([notes], settings)
    assert report.counts["indexed"] == 3 and report.embedding.embedded == 3
    found = api.search("where does molten rock come from", settings, k=3)
    assert found.used == ["bm25", "dense"]
    assert Path(found.hits[0].path).name == "volcano.md"
    honey = api.search("honey", settings, k=1, mode="bm25")
    assert [Path(h.path).name for h in honey.hits] == ["bees.md"]

    (notes / "bees.md").unlink()
    api.sync(settings)
    assert api.search("honey", settings, mode="bm25").hits == []
    (status,) = api.status(settings)
    assert status.chunks == 2 and status.index is not None
    assert status.index.text_rows == 2 and not status.index.problems

    (notes / "bees.md").write_text("# Bees\n\nBees make honey.\n")
    api.sync(settings)
    assert [Path(h.path).name for h in api.search("honey", settings, mode="bm25").hits] == [
        "bees.md"
    ]


def test_crash_between_catalog_commit_and_index_write_is_healed(
    tmp_path: Path, store_settings: Settings
) -> None:
    """The catalog commits a document's rows with an outbox entry in the same
    transaction; the index is written after. A crash in between leaves the
    outbox entry and the index without the rows (or with the old ones): the
    next sync writes them; search never shows what the catalog does not."""
    settings = store_settings
    notes = write_notes(tmp_path / "notes")
    api.add([notes], settings)
    with Catalog(settings.catalog_path) as catalog, catalog.session() as session:
        doc = session.scalars(select(Document).where(Document.path.like("%glacier.md"))).one()
        # What the commit left: the document queued, its index write never made.
        session.add(IndexPending(collection_id=doc.collection_id, document_id=doc.id))
        gone = list(session.scalars(select(Chunk.id).where(Chunk.document_id == doc.id)))
    store = open_store(settings, "default")
    assert gone and set(gone) <= store.ids(TEXT)
    store.delete_ids(TEXT, gone)
    assert api.search("glaciers", settings, mode="bm25").hits == []

    report = api.sync(settings)
    assert report.exit_code == 0
    hits = api.search("glaciers", settings, mode="bm25").hits
    assert [Path(h.path).name for h in hits] == ["glacier.md"]
    assert open_store(settings, "default").count(TEXT) == 3
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        assert session.scalars(select(IndexPending)).all() == []


def test_a_stray_index_row_is_removed_by_the_health_check(
    tmp_path: Path, store_settings: Settings
) -> None:
    settings = store_settings
    api.add([write_notes(tmp_path / "notes")], settings)
    store = open_store(settings, "default")
    rows = [ChunkRow("ghost:0", "ghost", "h", "phantom lava ghost", "/x/ghost.md", None, 0.0, [])]
    store.replace_documents(["ghost"], text_table(rows), {})
    assert store.count(TEXT) == 4
    # Search shows only what the catalog holds, even before the index is repaired.
    assert all("ghost" not in h.path for h in api.search("phantom ghost", settings).hits)
    api.sync(settings)
    store = open_store(settings, "default")
    assert store.count(TEXT) == 3 and "ghost:0" not in store.ids(TEXT)


def test_a_new_process_searches_what_another_wrote(
    tmp_path: Path, backend: str, store_settings: Settings, cli_process: Callable[..., Any]
) -> None:
    api.add([write_notes(tmp_path / "notes")], store_settings)
    env = {"MNEMO_INDEX__BACKEND": backend, "MNEMO_EMBEDDING__BACKEND": "none"}
    if backend == "milvus":
        # Milvus Lite serves one process at a time: while this one holds the file...
        busy = cli_process("search", "honey", "--mode", "bm25", env=env)
        assert busy.returncode != 0
        assert "open in another process" in busy.stderr and "Milvus server" in busy.stderr
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_all()  # ...and once it lets go
        forget_reader(store_settings, "default")
    found = cli_process("search", "honey", "--mode", "bm25", env=env)
    assert found.returncode == 0, found.stderr
    assert "bees.md" in found.stdout and "glacier.md" not in found.stdout


def test_a_document_written_again_keeps_only_its_new_chunks(store_settings: Settings) -> None:
    """In a fresh index too (Milvus Lite skips the delete of documents it never
    wrote there), from the store that made it and from another one in the process."""
    first = open_store(store_settings, "default")
    _fill(first, ["d1", "d2"])
    rows = _rows(["d1"])[:1]  # d1 now has one chunk
    vectors = {"k": vector_table_rows(rows, _vectors(rows), DIM)}
    first.replace_documents(
        ["d1", "d3"],
        text_table(rows + _rows(["d3"])),
        {"k": vector_table_rows(rows + _rows(["d3"]), _vectors(rows + _rows(["d3"])), DIM)},
    )
    expected = {"d1:0", "d2:0", "d2:1", "d3:0", "d3:1"}
    assert first.ids(TEXT) == expected and first.count(TEXT) == 5
    assert first.ids(vector_table("k")) == expected and first.count(vector_table("k")) == 5
    second = open_store(store_settings, "default")
    second.replace_documents(
        ["d2"],
        text_table(_rows(["d2"])[1:]),
        {"k": vector_table_rows(_rows(["d2"])[1:], _vectors(_rows(["d2"]))[1:], DIM)},
    )
    first.replace_documents(["d1"], text_table(rows), vectors)
    expected = {"d1:0", "d2:1", "d3:0", "d3:1"}
    for store in (first, second):
        assert store.ids(TEXT) == expected and store.count(TEXT) == 4
        assert store.ids(vector_table("k")) == expected and store.count(vector_table("k")) == 4
    assert [h.chunk_id for h in first.keyword("volcanoes lava", None, 5)] == ["d1:0"]


def test_a_filter_milvus_cannot_express_is_refused_not_dropped() -> None:
    from mnemo.index.milvus_expr import milvus_filter

    assert milvus_filter(None) == ""
    where = Filters(path=['*"quoted" 100%.md'], tags=["a'b"]).where()
    assert milvus_filter(where) == (
        'path like "%\\"quoted\\" 100\\\\%.md" and ARRAY_CONTAINS_ANY ( tags , [ "a\'b" ] )'
    )
    with pytest.raises(ValueError, match="unknown name 'content'"):
        milvus_filter("content = 'x'")
    with pytest.raises(ValueError, match="not understood"):
        milvus_filter("path = 'x'; DROP")

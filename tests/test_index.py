"""The index beside the catalog: keyword search first, embedder switch-over,
approximate vector index, clean-up; against real LanceDB and real servers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from embedserver import Script, serve

from mnemo import api
from mnemo.config import Settings
from mnemo.index.lance import LanceStore

Cli = Callable[..., subprocess.CompletedProcess[str]]


def make_notes(root: Path, count: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    topics = ["volcanoes erupt molten lava", "bees pollinate clover fields", "glaciers carve valleys"]
    for n in range(count):
        (root / f"note{n}.md").write_text(f"# Note {n}\n\nThis note says {topics[n % 3]} ({n}).\n")
    return root


def test_keyword_search_works_before_embeddings_and_embedding_catches_up(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    notes = make_notes(tmp_path / "notes")
    with serve() as (url, script):
        remote = make_settings(
            embedding={"backend": "openai-compatible", "model": "nomic-embed", "base_url": url}
        )
        script.down = True  # the embedding service is down for the first run
        report = api.add([notes], remote)
        assert report.counts["indexed"] == 6
        assert "unreachable" in (report.embedding.error or "") or "503" in (report.embedding.error or "")
        assert report.exit_code == 1
        found = api.search("glaciers", remote)
        assert {Path(h.path).name for h in found.hits} == {"note2.md", "note5.md"}
        assert found.used == ["bm25"] and "no vectors yet" in found.warnings[0]
        (status,) = api.status(remote)
        assert status.chunks == 6 and status.embeddings == []

        script.down = False
        report = api.sync(remote)
        assert report.embedding.embedded == 6 and report.embedding.pending == 0
        (status,) = api.status(remote)
        assert [(e.state, e.embedded) for e in status.embeddings] == [("active", 6)]
        assert api.search("glaciers", remote).used == ["bm25", "dense"]


def test_switching_embedders_keeps_old_vectors_serving_until_the_new_are_complete(
    tmp_path: Path, dense_settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    settings = dense_settings
    notes = make_notes(tmp_path / "notes")
    api.add([notes], settings)
    minilm = api.search("lava", settings).embedder
    assert minilm and minilm.startswith("onnx:all-MiniLM-L6-v2")
    with serve() as (url, script):
        remote = make_settings(
            embedding={"backend": "openai-compatible", "model": "nomic-embed", "base_url": url}
        )
        script.refuse_batches = True  # it answers the probe, then fails every batch
        report = api.sync(remote)
        assert report.embedding.error and report.embedding.pending == 6
        # MiniLM keeps serving; the new embedder is building.
        response = api.search("lava", remote)
        assert response.embedder == minilm and "dense" in response.used
        (status,) = api.status(remote)
        assert sorted((e.state, e.embedded) for e in status.embeddings) == [
            ("active", 6),
            ("building", 0),
        ]
        # A note added meanwhile is embedded by the serving embedder too.
        (notes / "late.md").write_text("# Late\n\nA late note about glaciers.\n")
        api.sync(remote)
        assert [e.embedded for e in api.status(remote)[0].embeddings if e.state == "active"] == [7]

        script.refuse_batches = False
        report = api.sync(remote)
        assert report.embedding.embedded == 7 and any("switched" in n for n in report.embedding.notes)
        response = api.search("lava", remote)
        assert response.embedder and response.embedder.startswith("openai-compatible:nomic-embed")
        (status,) = api.status(remote)
        assert [(e.state, e.embedded) for e in status.embeddings] == [("active", 7)]
        tables = LanceStore(settings.index_path / "default").vector_tables()
        assert len(tables) == 1  # the MiniLM vectors are gone from the index


def test_approximate_vector_index_keeps_recall(tmp_path: Path) -> None:
    """Past the threshold an IVF index is built; its top 10 agree with exact search,
    also after many small syncs and after the collection has doubled."""
    from datetime import timedelta

    from mnemo.index.lance import MAX_INDEX_SEGMENTS
    from mnemo.index.rows import ChunkRow, vector_table_rows

    rng = np.random.default_rng(7)
    dim, clusters = 64, 40
    centres = rng.normal(size=(clusters, dim))

    def rows(start: int, count: int) -> Any:
        data = centres[rng.integers(0, clusters, count)] + 0.35 * rng.normal(size=(count, dim))
        data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
        chunks = [
            ChunkRow(f"c{i}", f"d{i}", f"h{i}", "", f"/x/{i}.md", "text/markdown", 0.0, [])
            for i in range(start, start + count)
        ]
        return vector_table_rows(chunks, data, dim)

    def recall() -> float:
        queries = rng.normal(size=(50, dim)) + centres[rng.integers(0, clusters, 50)]
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        found = []
        for query in queries:
            exact = {h.chunk_id for h in store.dense("k", query, None, 10, 32, 4, exact=True)}
            approx = {h.chunk_id for h in store.dense("k", query, None, 10, 32, 4)}
            found.append(len(exact & approx) / 10)
        return float(np.mean(found))

    store = LanceStore(tmp_path / "index")
    store.add_vectors("k", rows(0, 6000))
    assert not store.ensure_vector_index("k", min_rows=10_000)  # below the threshold: exact
    assert store.vector_index("k") is None
    assert store.ensure_vector_index("k", min_rows=5_000)
    assert store.vector_index("k") == {
        "name": "vector_ivf_6000", "trained_rows": 6000, "segments": 1, "unindexed_rows": 0
    }
    assert recall() >= 0.95

    # Small syncs: each folds its rows in as one more segment, never more than the cap.
    total = 6000
    for _ in range(MAX_INDEX_SEGMENTS + 3):
        store.add_vectors("k", rows(total, 50))
        total += 50
        store.optimize(timedelta(0))
        store.ensure_vector_index("k", min_rows=5_000)
        assert store.vector_index("k")["segments"] <= MAX_INDEX_SEGMENTS
    # The collection doubles: the index is retrained at its new size.
    store.add_vectors("k", rows(total, 7000))
    total += 7000
    store.optimize(timedelta(0))
    store.ensure_vector_index("k", min_rows=5_000)
    index = store.vector_index("k")
    assert index["trained_rows"] == total and index["segments"] == 1
    assert recall() >= 0.95


def test_old_versions_are_cleaned_up(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    notes = make_notes(tmp_path / "notes", count=3)
    settings = make_settings(index={"keep_versions_minutes": 0})
    api.add([notes], settings)
    versions = settings.index_path / "default" / "text.lance" / "_versions"
    for round_ in range(6):
        (notes / "note0.md").write_text(f"# Note 0\n\nRevision {round_} of the first note.\n")
        api.sync(settings)
    assert len(list(versions.iterdir())) <= 3
    assert "Revision 5" in api.search("revision", settings, mode="bm25").hits[0].text


def test_search_command(cli: Cli, tmp_path: Path) -> None:
    notes = make_notes(tmp_path / "notes")
    cli("add", str(notes), check=True)
    shown = cli("search", "bees and clover", "-k", "2", check=True)
    assert "Note 1" in shown.stdout and "note1.md" in shown.stdout
    assert "pollinate clover" in shown.stdout and "2 passage(s)" in shown.stdout
    as_json = json.loads(cli("search", "glaciers", "--mode", "bm25", "--json", check=True).stdout)
    assert as_json["used"] == ["bm25"] and as_json["hits"][0]["path"].endswith(".md")
    assert {"path", "title", "page_start", "heading_path", "snippet", "score"} <= set(as_json["hits"][0])

    empty = cli("search", "   ")
    assert empty.returncode == 2 and empty.stderr.strip() == "error: empty query: give some words to search for"
    bad_date = cli("search", "x", "--after", "last tuesday")
    assert bad_date.returncode == 2 and "--after" in bad_date.stderr and "Traceback" not in bad_date.stderr
    status = cli("status", check=True)
    assert "embedded" in status.stdout and "6/6 chunks" in status.stdout

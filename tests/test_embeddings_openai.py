"""The OpenAI-compatible embedder against a local server speaking /v1/embeddings."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from embedserver import DIM, Script, fake_vector, serve

from mnemo.embeddings import create
from mnemo.embeddings.openai_compatible import EmbeddingServiceError


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with serve() as found:
        yield found


def test_batches_order_and_identity(server: tuple[str, Script]) -> None:
    url, script = server
    embedder = create("openai-compatible", model="nomic-embed", base_url=url, batch_size=4)
    assert embedder.identity.dimension == DIM and embedder.identity.model == "nomic-embed"
    texts = [f"passage {i}" for i in range(10)]
    vectors = embedder.embed_documents(texts)
    assert script.batches[1:] == [4, 4, 2]  # after the dimension probe
    expected = np.asarray([fake_vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)


def test_retries_a_busy_server(server: tuple[str, Script]) -> None:
    url, script = server
    script.fail_next = 2
    embedder = create("openai-compatible", model="nomic-embed", base_url=url, max_retries=3)
    assert embedder.embed_query("hello").shape == (DIM,)
    assert script.requests >= 4


def test_clear_errors(server: tuple[str, Script]) -> None:
    url, _ = server
    with pytest.raises(EmbeddingServiceError, match=r"answered 404 for model 'missing'"):
        create("openai-compatible", model="missing", base_url=url, max_retries=0)
    with pytest.raises(EmbeddingServiceError, match="unreachable"):
        create("openai-compatible", model="x", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2)

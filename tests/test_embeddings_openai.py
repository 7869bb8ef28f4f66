"""The OpenAI-compatible embedder against a local server speaking /v1/embeddings."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mnemo.embeddings import create
from mnemo.embeddings.openai_compatible import EmbeddingServiceError

DIM = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:DIM]]


class Script:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fail_next = 0  # answer 503 this many times first
        self.requests = 0


class EmbeddingsServer(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.script.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found"}})
        if self.script.fail_next:
            self.script.fail_next -= 1
            return self._send(503, {"error": {"message": "loading model"}})
        if body["model"] != "nomic-embed":
            return self._send(404, {"error": {"message": f"model {body['model']} not found"}})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.script.batches.append(len(texts))
        data = []
        for index, text in enumerate(texts):
            vector = fake_vector(text)
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                data.append({"object": "embedding", "index": index, "embedding": encoded})
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        data.reverse()  # servers may answer out of order; index decides
        self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def _send(self, status: int, payload: dict[str, object]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Handler", (EmbeddingsServer,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()


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

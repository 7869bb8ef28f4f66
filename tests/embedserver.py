"""A local server speaking OpenAI's /v1/embeddings, scripted by the test.

It stands in for a remote embedding service (Ollama, vLLM, TEI, OpenAI): the
vectors are a hash of each text, so identical texts get identical vectors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

DIM = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:DIM]]


class Script:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fail_next = 0  # answer 503 this many times first
        self.requests = 0
        self.down = False  # answer 503 to everything
        self.refuse_batches = False  # answer 503 to requests of more than one text


class EmbeddingsServer(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.script.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found"}})
        if self.script.down:
            return self._send(503, {"error": {"message": "service unavailable"}})
        if self.script.fail_next:
            self.script.fail_next -= 1
            return self._send(503, {"error": {"message": "loading model"}})
        if body["model"] != "nomic-embed":
            return self._send(404, {"error": {"message": f"model {body['model']} not found"}})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if self.script.refuse_batches and len(texts) > 1:
            return self._send(503, {"error": {"message": "overloaded"}})
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


@contextmanager
def serve() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Handler", (EmbeddingsServer,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()

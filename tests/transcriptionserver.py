"""A local server speaking OpenAI's audio transcription API (``POST /v1/audio/transcriptions``).

It stands in for a faster-whisper server, LocalAI or OpenAI: the real ``openai``
SDK sends it a multipart upload and gets ``verbose_json`` back. It cannot
recognise speech, so a :class:`Script` gives the segments' texts; their times
split the audio's real duration (read from a WAV's header) evenly. Every
request is recorded: fields, file name and the audio bytes.
"""

from __future__ import annotations

import io
import json
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "whisper-test"


@dataclass
class Upload:
    fields: dict[str, str]
    filename: str
    audio: bytes
    authorization: str | None


@dataclass
class Script:
    texts: list[str] = field(default_factory=lambda: ["Hello."])
    duration: float = 10.0  # when the audio is not a WAV whose header says how long it is
    key: str | None = None  # when set, other keys get 401
    requests: list[Upload] = field(default_factory=list)


def duration_of(audio: bytes, fallback: float) -> float:
    if not audio.startswith(b"RIFF"):
        return fallback
    with wave.open(io.BytesIO(audio)) as reader:
        return reader.getnframes() / reader.getframerate()


def _segment(index: int, start: float, end: float, text: str) -> dict[str, Any]:
    return {
        "id": index,
        "seek": 0,
        "start": start,
        "end": end,
        "text": " " + text,
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": -0.2,
        "compression_ratio": 1.2,
        "no_speech_prob": 0.01,
    }


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/audio/transcriptions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = self.rfile.read(int(self.headers["content-length"]))
        head = f"content-type: {self.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=default).parsebytes(head + body)
        fields, filename, audio = {}, "", b""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                filename, audio = part.get_filename(), part.get_payload(decode=True)
            else:
                fields[str(name)] = part.get_content().strip()
        auth = self.headers.get("authorization")
        self.script.requests.append(Upload(fields, filename, audio, auth))
        if self.script.key is not None and auth != f"Bearer {self.script.key}":
            self._send(401, {"error": {"message": "bad key", "code": "invalid_api_key"}})
            return
        if fields.get("model") != MODEL:
            self._send(404, {"error": {"message": f"model {fields.get('model')} not found"}})
            return
        total = duration_of(audio, self.script.duration)
        step = total / len(self.script.texts)
        segments = [
            _segment(i, round(i * step, 2), round((i + 1) * step, 2), text)
            for i, text in enumerate(self.script.texts)
        ]
        self._send(
            200,
            {
                "task": "transcribe",
                "language": "english",
                "duration": total,
                "text": " ".join(self.script.texts),
                "segments": segments,
            },
        )


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """Run the server on a free loopback port; yields its base URL (ending in /v1)."""
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()

"""Local servers speaking OpenAI's chat completions and Anthropic's messages APIs.

They stand in for Ollama, vLLM, OpenAI or Anthropic: the real SDKs talk to them over
HTTP, JSON and server-sent events exactly as to the real services. A :class:`Script`
says what the requests get (replies, failing statuses, error bodies, a broken stream,
a delay) and records every request body received. Tokens are counted as words.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Literal

Body = dict[str, Any]


def source_number(body: dict[str, Any], file_tail: str, containing: str = "") -> int:
    """The number the prompt gave the source from ``file_tail`` whose text has ``containing``."""
    prompt = body["messages"][-1]["content"]
    for number, path, text in re.findall(
        r'<source id="(\d+)" file="([^"]*)"[^>]*>\n(.*?)\n</source>', prompt, re.DOTALL
    ):
        if path.endswith(file_tail) and containing in text:
            return int(number)
    raise AssertionError(f"no source from {file_tail} with {containing!r} in the prompt")


def citing(claim: str, file_tail: str, containing: str = "") -> Callable[[Body], str]:
    """A reply that makes ``claim`` and cites the source a careful model would: the one
    from ``file_tail`` whose text has ``containing``, whatever number the prompt gave it."""
    return lambda body: f"{claim} [{source_number(body, file_tail, containing)}]."


@dataclass(frozen=True)
class ToolCalls:
    """A reply that asks for tool calls: (name, arguments) pairs, the arguments a JSON
    text (sent as is, so it may be malformed on purpose) or an object."""

    calls: list[tuple[str, str | dict[str, Any]]]
    text: str = ""

    def arguments(self, index: int) -> str:
        given = self.calls[index][1]
        return given if isinstance(given, str) else json.dumps(given)


Reply = str | ToolCalls | Callable[[Body], "str | ToolCalls"]
# How a stream breaks: drop the connection, end the body without the protocol's end
# markers, send the protocol's error event, or send an event that is not JSON.
Break = Literal["drop", "end", "error", "garbage"]

MODEL = "test-model"


@dataclass
class Script:
    model: str = MODEL  # other model names get 404
    key: str | None = None  # when set, other keys get 401 (echoing the key, as some servers do)
    replies: list[Reply] = field(default_factory=list)  # one per request; "ready" once empty
    statuses: list[int] = field(default_factory=list)  # sent first, one per request
    error: tuple[int, str, str] | None = None  # (status, code or type, message), every request
    malformed: bool = False  # a reply body that is not JSON
    stream_break: tuple[int, Break] | None = None  # after this many text pieces
    refusal: str | None = None  # OpenAI: refuse, with this explanation
    finish_reason: str | None = None  # default: "stop" (OpenAI), "end_turn" (Anthropic)
    hang: float = 0.0  # seconds to wait before answering
    pace: float = 0.0  # seconds between streamed pieces, as a model writing them takes
    requests: list[Body] = field(default_factory=list)  # bodies received, in order

    def reply(self, body: Body) -> Any:
        reply = self.replies.pop(0) if self.replies else "ready"
        return reply(body) if callable(reply) else reply


def pieces(text: str) -> list[str]:
    """How a reply is streamed: a word at a time, with the spaces before it."""
    return re.findall(r"\s*\S+", text)


def prompt_tokens(body: Body) -> int:
    texts = [body.get("system", ""), *(message["content"] for message in body["messages"])]
    return sum(len(str(text or "").split()) for text in texts)


class _Handler(BaseHTTPRequestHandler):
    """What both protocols share: routing, key and model checks, failures, chunked SSE."""

    protocol_version = "HTTP/1.1"
    script: Script
    endpoint: str
    codes: ClassVar[dict[int, str]]  # the error code or type each status comes with

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        script = self.script
        script.requests.append(body)
        time.sleep(script.hang)
        key = self.headers.get("x-api-key") or self.headers.get("Authorization") or ""
        key = key.removeprefix("Bearer ")
        if script.statuses:
            status = script.statuses.pop(0)
            return self._json(status, self._error(status, "try again"), {"retry-after-ms": "10"})
        if self.path != self.endpoint:
            return self._json(404, self._error(404, f"no route {self.path}"))
        if script.key is not None and key != script.key:
            return self._json(401, self._error(401, f"Incorrect API key provided: {key}"))
        if body.get("model") != script.model:
            return self._json(404, self._error(404, f"model {body.get('model')!r} not found"))
        if script.error is not None:
            status, code, message = script.error
            return self._json(status, self._error(status, message, code))
        if script.malformed:
            return self._send(200, "application/json", b'{"id": "broken", "choices": [')
        text = script.reply(body)
        if body.get("stream"):
            self._stream(body, text)
        else:
            self._json(200, self.message(body, text))

    def _stream(self, body: Body, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        parts = pieces(text)
        at, how = self.script.stream_break or (len(parts), None)
        opening = self.opening(body)
        events = [*opening, *map(self.text_event, parts[:at])]
        if how is None:
            events += self.closing(body, text)
        elif how == "error":
            events.append(self.error_event())
        elif how == "garbage":
            events.append(self.garbage_event())
        for index, event in enumerate(events):
            if self.script.pace and index > len(opening):  # the first piece comes at once
                time.sleep(self.script.pace)
            self._chunk(event)
        if how == "drop":
            self.close_connection = True  # without the last chunk, the body is cut short
        else:
            self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: int, payload: Body, headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(payload).encode(), headers)

    def _send(
        self, status: int, content_type: str, raw: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, code: str | None = None) -> Body:
        return self.error_body(code or self.codes.get(status, "api_error"), message)

    # What each protocol fills in.
    def error_body(self, code: str, message: str) -> Body:
        raise NotImplementedError

    def message(self, body: Body, text: str) -> Body:
        raise NotImplementedError

    def opening(self, body: Body) -> list[bytes]:
        raise NotImplementedError

    def text_event(self, text: str) -> bytes:
        raise NotImplementedError

    def closing(self, body: Body, text: str) -> list[bytes]:
        raise NotImplementedError

    def error_event(self) -> bytes:
        raise NotImplementedError

    def garbage_event(self) -> bytes:
        raise NotImplementedError


class OpenAIHandler(_Handler):
    """POST /v1/chat/completions (JSON or SSE ending in ``[DONE]``) and GET /v1/models."""

    endpoint = "/v1/chat/completions"
    codes: ClassVar[dict[int, str]] = {
        401: "invalid_api_key",
        404: "model_not_found",
        429: "rate_limit_exceeded",
    }

    def do_GET(self) -> None:
        if self.path != "/v1/models":
            return self._json(404, self._error(404, f"no route {self.path}"))
        model = {"id": self.script.model, "object": "model", "created": 0, "owned_by": "tests"}
        self._json(200, {"object": "list", "data": [model]})

    def error_body(self, code: str, message: str) -> Body:
        kind = "server_error" if code == "api_error" else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _usage(self, body: Body, text: str) -> Body:
        prompt, completion = prompt_tokens(body), len(pieces(text))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _chunk_event(self, choices: list[Body], usage: Body | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.script.model,
            "choices": choices,
            "usage": usage,
        }
        return b"data: %s\n\n" % json.dumps(chunk).encode()

    def _delta(self, delta: Body, finish: str | None = None) -> bytes:
        return self._chunk_event([{"index": 0, "delta": delta, "finish_reason": finish}])

    def message(self, body: Body, text: Any) -> Body:
        if isinstance(text, ToolCalls):
            calls = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": text.arguments(i)},
                }
                for i, (name, _) in enumerate(text.calls)
            ]
            message = {"role": "assistant", "content": text.text or None, "tool_calls": calls}
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [choice],
                "usage": self._usage(body, text.text),
            }
        refusal = self.script.refusal
        choice = {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None if refusal else text,
                "refusal": refusal,
            },
            "logprobs": None,
            "finish_reason": self.script.finish_reason or "stop",
        }
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [choice],
            "usage": self._usage(body, text),
        }

    def opening(self, body: Body) -> list[bytes]:
        return [self._delta({"role": "assistant", "content": ""})]

    def text_event(self, text: str) -> bytes:
        field_name = "refusal" if self.script.refusal else "content"
        return self._delta({field_name: text})

    def closing(self, body: Body, text: str) -> list[bytes]:
        events = [self._delta({}, self.script.finish_reason or "stop")]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(self._chunk_event([], self._usage(body, text)))
        return [*events, b"data: [DONE]\n\n"]

    def error_event(self) -> bytes:
        error = {"error": {"message": "Overloaded", "type": "server_error", "code": None}}
        return b"data: %s\n\n" % json.dumps(error).encode()

    def garbage_event(self) -> bytes:
        return b'data: {"id": "chatcmpl-test", "choices": [\n\n'


class AnthropicHandler(_Handler):
    """POST /v1/messages: JSON, or SSE from message_start to message_stop."""

    endpoint = "/v1/messages"
    codes: ClassVar[dict[int, str]] = {
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }

    def error_body(self, code: str, message: str) -> Body:
        return {"type": "error", "error": {"type": code, "message": message}}

    def _event(self, kind: str, data: Body) -> bytes:
        payload = json.dumps({"type": kind, **data})
        return f"event: {kind}\ndata: {payload}\n\n".encode()

    def message(self, body: Body, text: Any) -> Body:
        if isinstance(text, ToolCalls):
            blocks: list[Body] = [{"type": "text", "text": text.text}] if text.text else []
            for i, (name, _) in enumerate(text.calls):
                try:
                    given = json.loads(text.arguments(i))
                except ValueError:
                    given = {"unparsed": text.arguments(i)}
                blocks.append(
                    {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": given}
                )
            return {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": blocks,
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt_tokens(body), "output_tokens": 5},
            }
        return {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": self.script.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens(body), "output_tokens": len(pieces(text))},
        }

    def opening(self, body: Body) -> list[bytes]:
        start = {**self.message(body, ""), "stop_reason": None}
        start["usage"]["output_tokens"] = 1
        return [
            self._event("message_start", {"message": start}),
            self._event(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            ),
            self._event("ping", {}),
        ]

    def text_event(self, text: str) -> bytes:
        delta = {"type": "text_delta", "text": text}
        return self._event("content_block_delta", {"index": 0, "delta": delta})

    def closing(self, body: Body, text: str) -> list[bytes]:
        delta = {"stop_reason": self.script.finish_reason or "end_turn", "stop_sequence": None}
        usage = {"output_tokens": len(pieces(text))}
        return [
            self._event("content_block_stop", {"index": 0}),
            self._event("message_delta", {"delta": delta, "usage": usage}),
            self._event("message_stop", {}),
        ]

    def error_event(self) -> bytes:
        return self._event(
            "error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}
        )

    def garbage_event(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta\n\n'


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a timeout test) closes its end: not a failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def _serve(handler: type[_Handler], script: Script) -> Iterator[int]:
    httpd = _Server(("127.0.0.1", 0), type("Handler", (handler,), {"script": script}))
    # A short poll interval makes shutdown() quick.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def serve_openai(script: Script) -> Iterator[str]:
    """An OpenAI-compatible server; yields its base URL, ``http://127.0.0.1:PORT/v1``."""
    with _serve(OpenAIHandler, script) as port:
        yield f"http://127.0.0.1:{port}/v1"


@contextmanager
def serve_anthropic(script: Script) -> Iterator[str]:
    """An Anthropic server; yields its base URL, ``http://127.0.0.1:PORT``.

    It takes the key from ``x-api-key`` or, as the current SDK sends it, a bearer token.
    """
    with _serve(AnthropicHandler, script) as port:
        yield f"http://127.0.0.1:{port}"

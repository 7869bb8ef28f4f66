"""Request limits: a per-caller rate limit and a cap on request body size.

The rate limit is a token bucket per key (or per client address when no key is
used): ``rate_limit`` requests a minute, with bursts up to the same number.
Bodies are capped by their declared length and again while they stream in;
the upload route gets ``max_upload_mb``, everything else ``max_body_kb``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import compile_path

from mnemo.config.settings import ServerSettings
from mnemo.server.errors import ApiError, error_response

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


class RateLimiter:
    """Token buckets by caller; thread-safe (sync routes run in a thread pool)."""

    def __init__(self, per_minute: int, what: str = "requests") -> None:
        self.what = what
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client``; ApiError 429 with Retry-After when none is left."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many {self.what}: at most {int(self.capacity)} a minute; "
                    f"retry in {wait} s",
                    {"Retry-After": str(wait)},
                )
            self._buckets[client] = (tokens - 1.0, now)


class BodyLimit:
    """ASGI middleware: 413 for bodies over the limit, declared or streamed.

    The limit follows the route, never the request's Content-Type: POSTs to
    ``upload_paths`` get ``max_upload_mb``, every other request ``max_body_kb``.
    """

    def __init__(
        self, app: ASGIApp, settings: ServerSettings, upload_paths: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.body_limit = settings.max_body_kb * 1024
        self.upload_limit = int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024  # form overhead
        self.uploads = [compile_path(path)[0] for path in upload_paths]

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and any(r.match(scope["path"]) for r in self.uploads)
        limit = self.upload_limit if upload else self.body_limit
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "body_too_large", _too_large(limit, upload))
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "body_too_large", _too_large(limit, upload))
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int, upload: bool) -> str:
    if upload:
        return f"uploads are limited to {limit // 1024:,} KiB (server.max_upload_mb)"
    return f"request bodies are limited to {limit // 1024:,} KiB (server.max_body_kb)"

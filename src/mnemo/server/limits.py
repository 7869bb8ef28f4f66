"""Request limits: a per-caller rate limit and a cap on request body size.

The rate limit is a token bucket per key (or per client address when no key is
used): ``rate_limit`` requests a minute, with bursts up to the same number.
Bodies are capped by their declared length and again while they stream in;
multipart uploads get ``max_upload_mb``, everything else ``max_body_kb``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mnemo.config.settings import ServerSettings
from mnemo.server.errors import ApiError, error_response

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


class RateLimiter:
    """Token buckets by caller; thread-safe (sync routes run in a thread pool)."""

    def __init__(self, per_minute: int) -> None:
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
                    f"too many requests: at most {int(self.capacity)} a minute; retry in {wait} s",
                    {"Retry-After": str(wait)},
                )
            self._buckets[client] = (tokens - 1.0, now)


class BodyLimit:
    """ASGI middleware: 413 for bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.body_limit = settings.max_body_kb * 1024
        self.upload_limit = int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024  # form overhead

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.upload_limit if multipart else self.body_limit
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "body_too_large", _too_large(limit, multipart))
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "body_too_large", _too_large(limit, multipart))
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int, multipart: bool) -> str:
    what = "uploads" if multipart else "request bodies"
    return f"{what} are limited to {limit // 1024:,} KiB (server.max_upload_mb / max_body_kb)"

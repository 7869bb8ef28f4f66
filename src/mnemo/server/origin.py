"""Who may talk to the server: the Host allow-list and the cross-origin check.

DNS rebinding: a web page on ``evil.example`` can point its own name at 127.0.0.1
and then talk to a loopback server as if it were its own origin; the browser still
sends ``Host: evil.example``. So every request's Host must name this server: a
loopback name (127.0.0.1, localhost, [::1]) with any port, ``server.host``, or one of
``server.allowed_hosts``; otherwise 421 (400 when there is no Host at all).

Cross-site request forgery: any web page can make a browser send a form post or a
"simple" fetch to the server. Requests that may change state (every method but GET,
HEAD and OPTIONS) are refused with 403 when their ``Origin`` is present and is
neither the server's own origin nor one of ``server.cors_origins``, or when
``Sec-Fetch-Site`` says ``cross-site``. Clients other than browsers send neither
header and are not affected.

One ASGI middleware in front of everything (the REST API, ``/v1`` and ``/mcp``); the
MCP SDK's own check on ``/mcp`` is configured from the same allow-list as a second layer.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers

from mnemo.config.settings import HOST_NAME, ServerSettings
from mnemo.server.errors import ApiError, error_response
from mnemo.server.limits import ASGIApp, Message, Receive, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})  # addresses to bind, not names to call
_PORT = re.compile(r"^:[0-9]{1,5}$")


def allowed_hosts(settings: ServerSettings) -> frozenset[str]:
    """The host names (lower case, IPv6 without brackets) the server answers to."""
    bound = settings.host.strip().strip("[]").lower()
    return frozenset({*LOOPBACK_NAMES, bound, *settings.allowed_hosts} - _WILDCARD_BINDS)


def host_name(header: str) -> str | None:
    """The name in a Host header, lower case, without port or brackets; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or ":" not in name:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    if rest and not _PORT.match(rest):
        return None
    name = name.removesuffix(".")
    return name if HOST_NAME.match(name) else None


def same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header names the server the Host header names (scheme http/https)."""
    scheme, sep, netloc = origin.lower().partition("://")
    return bool(sep) and scheme in ("http", "https") and netloc == host.strip().lower()


class HostOriginGuard:
    """ASGI middleware: 400/421 for a Host the server does not answer to, 403 for a
    cross-origin request that could change state."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.hosts = allowed_hosts(settings)
        self.origins = frozenset(origin.lower() for origin in settings.cors_origins)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            # Host names are case-insensitive; the MCP SDK's check compares exact strings.
            scope["headers"] = [
                (name, value.lower() if name == b"host" else value)
                for name, value in scope["headers"]
            ]
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": refusal.message})
        else:
            response = error_response(refusal.status, refusal.code, refusal.message)
            await response(scope, receive, send)

    def refusal(self, scope: Message) -> ApiError | None:
        """Why the request must be refused, or None."""
        headers = Headers(scope=scope)
        host = headers.get("host", "").strip()
        if not host:
            return ApiError(400, "missing_host", "the request has no Host header")
        if host_name(host) not in self.hosts:
            return ApiError(
                421,
                "host_not_allowed",
                f"this server does not answer to Host {host[:100]!r}; if clients reach it "
                "by that name, add the name to server.allowed_hosts",
            )
        if scope.get("method") in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            given = origin.strip().rstrip("/").lower()
            if not same_origin(given, host) and given not in self.origins:
                return ApiError(
                    403,
                    "cross_origin",
                    f"requests from origin {origin[:100]!r} may not change anything here; "
                    "add the origin to server.cors_origins to allow it",
                )
        if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return ApiError(
                403, "cross_origin", "cross-site requests may not change anything here"
            )
        return None

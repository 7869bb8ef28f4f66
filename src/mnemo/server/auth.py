"""API keys: created, listed and revoked in the catalog, checked on every request.

A key is ``mnemo_<prefix>_<secret>``; only the SHA-256 of the whole key is stored,
with the prefix so that a listing can show which key is which. Scopes nest:
``read`` < ``write`` < ``admin``. With no active key and a loopback bind, requests
need no key (the single-user laptop case); `mnemo serve` refuses to bind
elsewhere without keys, and a server bound elsewhere that loses its last key
refuses every request instead of opening up.

:class:`AuthGate` authenticates every request but the public ones before the app
reads its body; failed attempts are rate-limited per client address. Keys are
minted and revoked over HTTP only by a caller with an admin key, and never so
that no active key is left (:class:`~mnemo.errors.LastKeyError`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from mnemo.catalog import Catalog
from mnemo.catalog.models import ApiKey, utcnow
from mnemo.errors import KeyNotFoundError, LastKeyError
from mnemo.server.errors import ApiError, error_response

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
#: Paths anyone may call: health checks, the API description, and the web app's
#: front door (a redirect), sign-in page and static files.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/", "/ui/signin"})
PUBLIC_PREFIXES = ("/ui/static/",)
#: The web app's pages: the only paths where the key may come from the session cookie
#: (set by the sign-in page; HttpOnly, SameSite=Strict), and where a caller without a
#: valid key is sent to the sign-in page instead of getting a JSON 401.
UI_PREFIX = "/ui"
SESSION_COOKIE = "mnemo_session"


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, or nobody on an open loopback server."""

    key_id: int | None
    name: str | None
    scope: Scope
    client: str  # what rate limits count against: the key, or the client address


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(key.id, key.name, key.prefix, key.scope, key.created_at, key.revoked_at)


def create_key(catalog: Catalog, scope: Scope, name: str | None = None) -> tuple[KeyInfo, str]:
    """A new key; the secret is returned once and never stored."""
    prefix = secrets.token_hex(4)
    secret = f"mnemo_{prefix}_{secrets.token_urlsafe(32)}"
    with catalog.session() as session:
        key = ApiKey(
            name=name or f"key-{prefix}", prefix=prefix, key_hash=_hash(secret), scope=scope
        )
        session.add(key)
        session.flush()
        return _info(key), secret


def list_keys(catalog: Catalog) -> list[KeyInfo]:
    with catalog.session(readonly=True) as session:
        return [_info(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(
    catalog: Catalog, key_id: int, *, allow_last: bool = False, keep_admin: bool = False
) -> KeyInfo:
    """Revoke a key; LastKeyError when it is the last active one, unless ``allow_last``,
    and with ``keep_admin`` (the web app) when it is the last active admin key."""
    with catalog.session() as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            raise KeyNotFoundError(f"no active key with id {key_id}: `mnemo keys list` shows them")
        admins = session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.revoked_at.is_(None), ApiKey.id != key_id, ApiKey.scope == "admin")
        )
        if keep_admin and key.scope == "admin" and not admins:
            raise LastKeyError(
                f"key {key_id} is the last active admin key: without one, no one could "
                "manage keys or settings here; create another admin key first"
            )
        others = session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.revoked_at.is_(None), ApiKey.id != key_id)
        )
        if not others and not allow_last:
            raise LastKeyError(
                f"key {key_id} is the last active key: revoking it would leave a loopback "
                "server open to anyone and lock everyone out of any other; create another "
                "key first, or revoke it with `mnemo keys revoke --no-auth`"
            )
        key.revoked_at = utcnow()
        return _info(key)


def active_keys(catalog: Catalog) -> int:
    with catalog.session(readonly=True) as session:
        count = session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
        )
        return count or 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_ui_path(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def open_access(request: Request) -> bool:
    """Whether the server needs no key: bound to loopback with no active key."""
    state = request.app.state
    return is_loopback(state.settings.server.host) and active_keys(state.catalog) == 0


def _token(request: Request) -> tuple[str, str]:
    """The scheme and token of the Authorization header; on the web app's pages, without
    that header, the session cookie's key as a bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token.strip() and is_ui_path(request.url.path):
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie:
            return "bearer", cookie
    return scheme, token


def authenticate(request: Request, token: str | None = None) -> Principal:
    """The caller, from the bearer token (or ``token``, a key typed into the sign-in page);
    ApiError 401 when a key is needed and not valid, 429 when this address has failed
    too often."""
    state = request.app.state
    client = f"ip:{request.client.host if request.client else 'unknown'}"
    if open_access(request):
        return Principal(None, None, "admin", client)  # any token a client sends is ignored
    scheme, token = ("bearer", token) if token is not None else _token(request)
    if not token.strip() or scheme.lower() != "bearer":
        _fail(
            request,
            client,
            "missing_key",
            "an API key is required: send 'Authorization: Bearer KEY' "
            "(create one with `mnemo keys create --scope read`)",
        )
    local_token = getattr(state, "local_token", None)
    if local_token and hmac.compare_digest(token.strip(), local_token):
        return Principal(None, "local CLI", "admin", "local-cli")
    with state.catalog.session(readonly=True) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(token.strip())))
    if key is None or key.revoked_at is not None:
        _fail(request, client, "invalid_key", "the API key is unknown or revoked")
    return Principal(key.id, key.name, key.scope, f"key:{key.id}")  # type: ignore[arg-type]


def _fail(request: Request, client: str, code: str, message: str) -> NoReturn:
    """401, or 429 once ``client`` has used up its failed attempts for now."""
    request.app.state.auth_failures.check(client)
    raise ApiError(401, code, message, {"WWW-Authenticate": "Bearer"})


def check_scope(principal: Principal, scope: Scope) -> None:
    if SCOPES.index(principal.scope) < SCOPES.index(scope):
        raise ApiError(
            403,
            "insufficient_scope",
            f"this needs a key with scope {scope!r}; this key has {principal.scope!r}",
        )


def require(scope: Scope) -> Callable[[Request], Principal]:
    """A route dependency: the caller (authenticated by :class:`AuthGate`), checked for
    ``scope`` and counted against the rate limit."""

    def dependency(request: Request) -> Principal:
        principal = getattr(request.state, "principal", None) or authenticate(request)
        check_scope(principal, scope)
        request.app.state.limiter.check(principal.client)
        request.state.principal = principal
        return principal

    return dependency


class AuthGate:
    """ASGI middleware: authenticate every request but :data:`PUBLIC_PATHS` before the app
    reads its body, so an unauthenticated client cannot make the server take in a body.

    Requests under a prefix of ``mounts`` also need that prefix's scope and count against
    the rate limit here: mounted apps (the MCP endpoint) run no FastAPI dependencies.
    """

    def __init__(self, app: Any, mounts: dict[str, Scope]) -> None:
        self.app = app
        self.mounts = mounts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await run_in_threadpool(authenticate, request)
            for prefix, needed in self.mounts.items():
                if path == prefix or path.startswith(prefix + "/"):
                    check_scope(principal, needed)
                    request.app.state.limiter.check(principal.client)
        except ApiError as exc:
            response: Any = error_response(exc.status, exc.code, exc.message, exc.headers)
            if exc.status == 401 and is_ui_path(path):
                response = RedirectResponse(f"{UI_PREFIX}/signin", status_code=303)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

"""The sign-in session and the form token that guards every change.

Signing in checks the key with :func:`mnemo.server.auth.authenticate`, the same check
as a bearer token (failures count against the same per-address limit), then keeps
the key in an HttpOnly, SameSite=Strict cookie (Secure over https) that
:class:`~mnemo.server.auth.AuthGate` reads on the web app's paths only. A revoked
key therefore ends its sessions at once.

Every form and script request that changes something sends a token that must
equal the ``mnemo_csrf`` cookie (double submit); the Origin check in
:mod:`mnemo.server.origin` and SameSite=Strict are the other two layers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from typing import Any

from fastapi import Request, Response

from mnemo.server.errors import ApiError

CSRF_COOKIE = "mnemo_csrf"
FLASH_COOKIE = "mnemo_flash"
_FLASH_MAX = 5
CSRF_HEADER = "x-csrf-token"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,100}$")


def csrf_token(request: Request) -> str:
    """This browser's form token: the cookie's, or a new one (set by the page response)."""
    token = getattr(request.state, "csrf", None)
    if token is None:
        given = request.cookies.get(CSRF_COOKIE, "")
        token = given if _TOKEN.match(given) else secrets.token_urlsafe(32)
        request.state.csrf = token
    return token  # type: ignore[no-any-return]


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_csrf_cookie(request: Request, response: Response) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/ui"
        )


def check_csrf(request: Request, form: Any = None) -> None:
    """ApiError 403 unless the request carries this browser's form token."""
    sent = request.headers.get(CSRF_HEADER) or (form.get("csrf") if form is not None else None)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not (isinstance(sent, str) and cookie and secrets.compare_digest(sent, cookie)):
        raise ApiError(
            403,
            "csrf",
            "this form has expired or came from another site: reload the page and try again",
        )


def flash(request: Request, response: Response, messages: list[tuple[str, str]]) -> None:
    """Keep ``messages`` (level, text) for the next page this browser opens: how a form
    posted without the page's script still says what it did after its redirect."""
    kept = [(level, text[:400]) for level, text in messages[:_FLASH_MAX]]
    value = base64.urlsafe_b64encode(json.dumps(kept).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE, value, httponly=True, samesite="strict", secure=secure(request), path="/ui"
    )


def flashed(request: Request) -> list[tuple[str, str]]:
    """The messages a redirect left for this page (shown once, as text)."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    if not raw:
        return []
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, binascii.Error):
        return []
    if not isinstance(found, list):
        return []
    return [
        (str(item[0]), str(item[1]))
        for item in found[:_FLASH_MAX]
        if isinstance(item, list) and len(item) == 2 and item[0] in ("info", "warn", "error")
    ]

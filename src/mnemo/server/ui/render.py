"""Templates, the page response (with its Content-Security-Policy) and text highlighting."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from mnemo.server.auth import SCOPES, Principal
from mnemo.server.ui.session import FLASH_COOKIE, csrf_token, flashed, set_csrf_cookie

#: Pages load only their own script, styles and images; nothing inline, nothing framed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_env = Environment(
    loader=PackageLoader("mnemo.server.ui", "templates"),
    autoescape=True,  # every template, whatever its name: file names and passages are data
    trim_blocks=True,
    lstrip_blocks=True,
)


def marked(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """``text`` escaped, with each ``(start, end)`` span in ``<mark>``."""
    out: list[str] = []
    at = 0
    for start, end in sorted(spans):
        start, end = max(start, at), min(end, len(text))
        if start >= end:
            continue
        out += [
            escape(text[at:start]),
            Markup("<mark>"),
            escape(text[start:end]),
            Markup("</mark>"),
        ]
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def term_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where the query's words (three letters or more) occur in ``text``, any case."""
    words = {w.lower() for w in re.findall(r"\w{3,}", query)}
    if not words:
        return []
    pattern = re.compile(
        r"\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\w*", re.IGNORECASE
    )
    return [m.span() for m in pattern.finditer(text)]


def url(path: str, **params: Any) -> str:
    """``path`` with the given non-empty query parameters."""
    given = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(given, doseq=True)}" if given else path


_env.filters["marked"] = marked
_env.globals["url"] = url
_env.globals["term_spans"] = term_spans


def can(principal: Principal | None, scope: str) -> bool:
    return principal is not None and SCOPES.index(principal.scope) >= SCOPES.index(scope)  # type: ignore[arg-type]


def context(request: Request, collection: str | None = None) -> dict[str, Any]:
    """What every page's frame needs: who is signed in, what they may do, the collections."""
    principal: Principal | None = getattr(request.state, "principal", None)
    library = request.app.state.library
    names: list[str] = []
    if principal is not None:
        names = library.collections()
    return {
        "request": request,
        "principal": principal,
        "signed_in": principal is not None and principal.key_id is not None,
        "can_write": can(principal, "write"),
        "is_admin": can(principal, "admin"),
        "flashes": flashed(request),
        "csrf": csrf_token(request),
        "collections": names,
        "collection": collection or request.app.state.settings.collection,
    }


def render(template: str, **values: Any) -> str:
    return _env.get_template(template).render(**values)


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    collection: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """A whole page, with the security headers pages need and the form token cookie."""
    html = render(template, **context(request, collection), **values)
    return html_response(request, html, status)


def html_response(request: Request, html: str, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            # With no-referrer, browsers send "Origin: null" on form posts, which the
            # cross-origin check must refuse; same-origin keeps the origin, tells others nothing.
            "Referrer-Policy": "same-origin",
        },
    )
    set_csrf_cookie(request, response)
    if FLASH_COOKIE in request.cookies:  # shown on this page: not again
        response.delete_cookie(FLASH_COOKIE, path="/ui")
    return response

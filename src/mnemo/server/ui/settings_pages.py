"""The settings page (admin scope): every setting and where it came from, as `mnemo
config show` prints it; the language model's connection, saved into the home's
mnemo.toml and tested as `mnemo llm test` does; the server's API keys.

Keys are made and revoked only by a caller who signed in with an admin key (as over
REST), never so that no admin key is left; a new key's secret is shown once, in the
response that made it. The model's key is never shown again in full.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mnemo.errors import MnemoError
from mnemo.registry import LLM_PROVIDERS
from mnemo.server import audit, auth
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.render import page
from mnemo.server.ui.session import check_csrf, flash

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(require("admin"))]
SETTINGS = f"{UI_PREFIX}/settings"
_FIELD = 2000
_KEY_NAME = 64


def settings_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    messages: list[tuple[str, str]] | None = None,
    check: Any = None,
    created: tuple[Any, str] | None = None,
) -> Response:
    library = request.app.state.library
    rows, models = library.describe_settings()
    llm = library.settings.llm
    keys = auth.list_keys(request.app.state.catalog) if principal.key_id is not None else []
    return page(
        request,
        "settings.html",
        status=status,
        rows=rows,
        models=models,
        llm=llm,
        has_key=llm.api_key is not None,
        key_hint=next((r.value for r in rows if r.key == "llm.api_key"), None),
        providers=LLM_PROVIDERS.names(),
        keys=[k for k in keys if k.revoked_at is None],
        key_admin=principal.key_id is not None,
        messages=messages or [],
        check=check,
        created=created,
        settings_file=str(library.settings.settings_file),
    )


@router.get(SETTINGS)
def show(request: Request, principal: Admin) -> Response:
    return settings_page(request, principal)


def _text(form: Any, name: str) -> str | None:
    """A form field, trimmed; None when empty (the setting is removed from the file)."""
    value = str(form.get(name) or "").strip()
    if len(value) > _FIELD:
        raise ApiError(400, "too_long", f"{name}: at most {_FIELD:,} characters")
    return value or None


@router.post(f"{SETTINGS}/llm")
async def save_llm(request: Request, principal: Admin) -> Response:
    """Provider, model and base URL as given; the key only when one is typed (or removed)."""
    form = await request.form()
    check_csrf(request, form)
    changes: dict[str, str | None] = {
        "provider": _text(form, "provider") or "none",
        "model": _text(form, "model"),
        "base_url": _text(form, "base_url"),
    }
    secret = _text(form, "api_key")
    if secret is not None:
        changes["api_key"] = secret
    elif form.get("forget_key") == "on":
        changes["api_key"] = None
    library = request.app.state.library
    try:
        notes = await run_in_threadpool(library.configure_llm, changes)
    except MnemoError as exc:
        return settings_page(request, principal, status=400, messages=[("error", str(exc))])
    target = ", ".join(f"llm.{k}" for k in changes)
    await run_in_threadpool(audit.record, request, principal, "settings.llm", target, 200)
    response = RedirectResponse(SETTINGS, status_code=303)
    saved = f"saved the language model settings in {library.settings.settings_file}"
    flash(request, response, [("info", saved)] + [("warn", n) for n in notes])
    return response


@router.post(f"{SETTINGS}/llm/test")
async def test_llm(request: Request, principal: Admin) -> Response:
    check_csrf(request, await request.form())
    try:
        found = await run_in_threadpool(request.app.state.library.check_llm)
    except MnemoError as exc:
        return settings_page(request, principal, status=502, messages=[("error", str(exc))])
    if found is None:
        message = "no language model is configured: answers are extractive"
        return settings_page(request, principal, messages=[("info", message)])
    return settings_page(request, principal, check=found)


def _key_admin(principal: Principal) -> None:
    if principal.key_id is None:
        raise ApiError(
            403,
            "key_required",
            "API keys are not made or revoked here on a server without keys: "
            "create the first one with `mnemo keys create --scope admin`, then sign in with it",
        )


@router.post(f"{SETTINGS}/keys")
async def create_key(request: Request, principal: Admin) -> Response:
    form = await request.form()
    check_csrf(request, form)
    _key_admin(principal)
    scope = str(form.get("scope") or "")
    if scope not in auth.SCOPES:
        raise ApiError(400, "bad_scope", "scope: choose read, write or admin")
    name = str(form.get("name") or "").strip()[:_KEY_NAME] or None
    catalog = request.app.state.catalog
    key, secret = await run_in_threadpool(auth.create_key, catalog, scope, name)  # type: ignore[arg-type]
    target = f"{key.id} {key.name} ({key.scope})"
    await run_in_threadpool(audit.record, request, principal, "key.create", target, 201)
    return settings_page(request, principal, status=201, created=(key, secret))


@router.post(SETTINGS + "/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: int, principal: Admin) -> Response:
    check_csrf(request, await request.form())
    _key_admin(principal)
    catalog = request.app.state.catalog
    try:
        key = await run_in_threadpool(lambda: auth.revoke_key(catalog, key_id, keep_admin=True))
    except MnemoError as exc:
        return settings_page(request, principal, status=409, messages=[("error", str(exc))])
    await run_in_threadpool(
        audit.record, request, principal, "key.revoke", f"{key.id} {key.name}", 200
    )
    response = RedirectResponse(SETTINGS, status_code=303)
    flash(request, response, [("info", f"revoked key {key.id} ({key.name})")])
    return response

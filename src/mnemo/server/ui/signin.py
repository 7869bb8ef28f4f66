"""Sign in with an API key, sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mnemo.server.auth import SESSION_COOKIE, UI_PREFIX, authenticate, open_access
from mnemo.server.errors import ApiError
from mnemo.server.ui.render import page
from mnemo.server.ui.session import check_csrf, secure

router = APIRouter(include_in_schema=False)
_MAX_KEY = 200


@router.get(f"{UI_PREFIX}/signin")
def signin_page(request: Request) -> Response:
    if open_access(request):
        return RedirectResponse(f"{UI_PREFIX}/library", status_code=303)
    return page(request, "signin.html", error=None)


@router.post(f"{UI_PREFIX}/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    key = str(form.get("key") or "").strip()[:_MAX_KEY]
    try:
        await run_in_threadpool(authenticate, request, key)
    except ApiError as exc:
        message = "that key is unknown or revoked" if exc.code == "invalid_key" else exc.message
        if exc.code == "missing_key":
            message = "enter an API key (an admin can create one with `mnemo keys create`)"
        response = page(request, "signin.html", status=exc.status, error=message)
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    response = RedirectResponse(f"{UI_PREFIX}/library", status_code=303)
    if not open_access(request):
        response.set_cookie(
            SESSION_COOKIE,
            key,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path=UI_PREFIX,
        )
    return response


@router.post(f"{UI_PREFIX}/signout")
async def signout(request: Request) -> Response:
    check_csrf(request, await request.form())
    response = RedirectResponse(f"{UI_PREFIX}/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
    return response

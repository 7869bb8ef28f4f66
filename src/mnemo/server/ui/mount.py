"""Put the web app on the FastAPI app: its routers, static files, and error pages."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from mnemo.errors import MnemoError
from mnemo.server.auth import PUBLIC_PREFIXES, UI_PREFIX, is_ui_path
from mnemo.server.ui import (
    chat_pages,
    conversation_pages,
    graph_pages,
    library_pages,
    search_pages,
    settings_pages,
    signin,
    sync_pages,
    topic_pages,
    viewer,
    voice,
)
from mnemo.server.ui.render import context, html_response, render

#: The web app's upload route: it gets server.max_upload_mb, as the REST upload does.
UPLOAD_PATH = library_pages.UPLOAD_PATH
#: The archive upload (admin): it gets server.max_upload_mb too.
IMPORT_PATH = topic_pages.IMPORT_PATH


def install(app: FastAPI) -> None:
    static = StaticFiles(directory=str(files("mnemo.server.ui") / "static"))
    app.mount(PUBLIC_PREFIXES[0].rstrip("/"), static, name="ui-static")
    modules = (
        signin,
        library_pages,
        search_pages,
        viewer,
        chat_pages,
        conversation_pages,
        settings_pages,
        sync_pages,
        voice,
        graph_pages,
        topic_pages,
    )
    for module in modules:
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    @app.get(UI_PREFIX, include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/library", status_code=303)


def error_page(
    request: Request, status: int, code: str, message: str, headers: dict[str, str]
) -> Response | None:
    """The web app's errors as a page with the message; None for other paths (JSON)."""
    if not is_ui_path(request.url.path) or request.url.path.startswith(PUBLIC_PREFIXES):
        return None
    try:
        values = context(request)
    except MnemoError:  # the frame needs the catalog; the message must show regardless
        values = {"request": request, "principal": None, "collections": [], "csrf": ""}
    fragment = request.headers.get("x-requested-with") == "fetch"
    html = render(
        "message.html" if fragment else "error.html",
        **values,
        status=status,
        code=code,
        message=message,
        level="error",
    )
    response = html_response(request, html, status)
    for name in ("Retry-After",):
        if name in headers:
            response.headers[name] = headers[name]
    return response

"""Every error as JSON ``{"error": {"code", "message"}}`` with the status that fits.

Domain errors (:class:`~mnemo.errors.MnemoError`) are mapped here, once; request
validation is 422; anything unexpected is a 500 with no internals in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mnemo import errors
from mnemo.eval.cases import EvalSetError
from mnemo.eval.saved import EvalSetExistsError, EvalSetNotFoundError
from mnemo.tracing.read import TraceNotFoundError
from mnemo.server.headers import SECURITY_HEADERS

log = logging.getLogger("mnemo.server")

#: Most specific first: the first class an error is an instance of decides.
_STATUS: list[tuple[type[errors.MnemoError], int, str]] = [
    (errors.CollectionExistsError, 409, "collection_exists"),
    (errors.CollectionError, 404, "collection_not_found"),
    (errors.DocumentError, 404, "document_not_found"),
    (errors.ConversationError, 404, "conversation_not_found"),
    (errors.KeyNotFoundError, 404, "key_not_found"),
    (errors.JobNotFoundError, 404, "job_not_found"),
    (errors.MemoryNotFoundError, 404, "memory_not_found"),
    (TraceNotFoundError, 404, "trace_not_found"),
    (EvalSetNotFoundError, 404, "eval_set_not_found"),
    (EvalSetExistsError, 409, "eval_set_exists"),
    (EvalSetError, 400, "bad_eval_set"),
    (errors.LastKeyError, 409, "last_key"),
    (errors.SourceError, 400, "bad_source"),
    (errors.QueryError, 400, "bad_query"),
    (errors.ConfigError, 400, "not_configured"),
    (errors.BusyError, 409, "busy"),
    (errors.LLMError, 503, "llm_unavailable"),
    (errors.TranscriptionError, 503, "transcription_unavailable"),
    (errors.EmbeddingError, 503, "embedder_unavailable"),
    (errors.IndexDamagedError, 503, "index_unavailable"),
    (errors.CatalogError, 503, "catalog_unavailable"),
]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


#: Declared on every route, so the OpenAPI document lists every status it can send.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (400, "Bad request"),
        (401, "Missing or invalid API key"),
        (403, "Key lacks the scope, cross-origin request, or path not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body too large"),
        (415, "Unsupported media type"),
        (421, "The Host header names another server"),
        (422, "Invalid request"),
        (429, "Rate limited"),
        (503, "A backing service is unavailable"),
    ]
}


class ApiError(Exception):
    """An error the HTTP layer itself raises (auth, limits, uploads, paths)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_class(code: str) -> type[errors.MnemoError]:
    """The exception behind an error ``code`` (for a client that re-raises it)."""
    for cls, _, known in _STATUS:
        if known == code:
            return cls
    return errors.MnemoError


def status_of(exc: errors.MnemoError) -> tuple[int, str]:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 400, "error"


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


#: Renders an error as a web page for requests it claims (the web app's), else None.
PageRenderer = Callable[[Request, int, str, str, dict[str, str]], Response | None]


def install(app: FastAPI, pages: PageRenderer | None = None) -> None:
    """Register the handlers that turn every exception into the JSON error body (or, for
    the requests ``pages`` claims, into an error page)."""

    def respond(
        request: Request, status: int, code: str, message: str, headers: dict[str, str] | None
    ) -> Response:
        page = pages(request, status, code, message, headers or {}) if pages else None
        return page or error_response(status, code, message, headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return respond(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(errors.MnemoError)
    async def _domain(request: Request, exc: errors.MnemoError) -> Response:
        status, code = status_of(exc)
        return respond(request, status, code, str(exc), None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, 422, "invalid_request", _validation_message(exc), None)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        cause = exc.__cause__
        if isinstance(cause, ApiError):  # FastAPI wraps errors raised while reading the body
            return respond(request, cause.status, cause.code, cause.message, cause.headers)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return respond(request, exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        # Sent from outside the middleware stack, so the security headers are added here.
        return error_response(
            500,
            "internal",
            f"unexpected {type(exc).__name__}; see server log",
            SECURITY_HEADERS,
        )

"""The FastAPI application: middleware, error handlers, health, metrics, the routers and
the MCP endpoint (mounted at ``/mcp``).

Routes are thin: each calls one function of :mod:`mnemo.api` (or the job
runner) and converts its result to a typed response model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from mnemo import __version__
from mnemo.library import Library
from mnemo.config import Settings, serving
from mnemo.errors import MnemoError
from mnemo.server import admin, conversations, documents, errors, openai_api, queries, schemas, ui
from mnemo.server import feedback_api
from mnemo.server import research
from mnemo.server import graph as graph_routes
from mnemo.server import insights as insight_routes
from mnemo.server import eval_api, traces_api
from mnemo.server.auth import AuthGate, require
from mnemo.server.headers import SecurityHeaders
from mnemo.server.digest_schedule import DigestSchedule
from mnemo.server.jobs import JobRunner
from mnemo.server.limits import BodyLimit, RateLimiter
from mnemo.server.mcp_server import http_app
from mnemo.server.metrics import Metrics
from mnemo.server.middleware import RequestContext
from mnemo.server.origin import HostOriginGuard


def create_app(settings: Settings, library: Library | None = None) -> FastAPI:
    """The app over one :class:`~mnemo.library.Library` for its lifetime (made from
    ``settings`` unless given; the app closes it when it stops)."""
    library = library if library is not None else Library(settings)
    catalog = library.catalog
    jobs = JobRunner(library)
    metrics = Metrics(library, jobs.depth)
    mcp_app = http_app(library)
    digests = DigestSchedule(library)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        digests.start()
        try:
            async with mcp_app.router.lifespan_context(mcp_app):
                yield
        finally:
            digests.stop()
            await run_in_threadpool(jobs.shutdown, settings.server.shutdown_timeout)
            library.close()

    app = FastAPI(
        title="Mnemo",
        version=__version__,
        description="Search and ask your documents, with citations you can check.",
        lifespan=lifespan,
        # Swagger UI and ReDoc would load their scripts from a CDN (and need a looser
        # Content-Security-Policy); no package ships them offline. /openapi.json stays.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.library = library
    app.state.catalog = catalog
    #: Accepted as an admin key by this process only: `mnemo serve` hands it to the
    #: CLI of the same home through the owner-only ``<home>/serve.json``.
    app.state.local_token = serving.new_token()
    app.state.jobs = jobs
    app.state.metrics = metrics
    app.state.limiter = RateLimiter(settings.server.rate_limit)
    app.state.auth_failures = RateLimiter(
        settings.server.auth_failure_limit, "failed authentications from this address"
    )
    errors.install(app, pages=ui.error_page)
    for router in (
        admin.router,
        documents.router,
        queries.router,
        conversations.router,
        openai_api.router,
        feedback_api.router,
        research.router,
        graph_routes.router,
        insight_routes.router,
        eval_api.router,
        traces_api.router,
    ):
        app.include_router(router)
    app.mount("/mcp", mcp_app)
    ui.install(app)  # the web app, under /ui
    # Added innermost first; a request passes them in the opposite order: request id and
    # log line, security headers, Host and Origin, CORS, authentication, body limit.
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]
        settings=settings.server,
        upload_paths=[
            documents.UPLOAD_PATH,
            ui.UPLOAD_PATH,
            insight_routes.ARCHIVE_PATH,
            ui.IMPORT_PATH,
        ],
    )
    # MCP tools can add documents, so the endpoint needs a write key (when keys are in use).
    app.add_middleware(AuthGate, mounts={"/mcp": "write"})  # type: ignore[arg-type]
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,  # type: ignore[arg-type]
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(HostOriginGuard, settings=settings.server)  # type: ignore[arg-type]
    app.add_middleware(SecurityHeaders)  # type: ignore[arg-type]
    app.add_middleware(RequestContext, metrics=metrics)  # type: ignore[arg-type]

    @app.get("/healthz", tags=["health"], response_model=schemas.Health)
    def healthz() -> schemas.Health:
        """The process is alive."""
        return schemas.Health(status="ok")

    @app.get(
        "/readyz", tags=["health"], response_model=schemas.Ready, responses=errors.ERROR_RESPONSES
    )
    def readyz() -> schemas.Ready | Response:
        """The catalog can be read and every collection's index holds what the
        catalog says: 503 when an index is missing or unreadable (searches would
        find nothing or fail); ready with warnings when one is merely behind."""
        warnings: list[str] = []
        try:
            with catalog.session(readonly=True) as session:
                session.execute(text("SELECT 1"))
            for status in library.status():
                index = status.index
                if index is not None and (index.missing or index.damaged):
                    return errors.error_response(503, "not_ready", "; ".join(index.problems))
                warnings += index.problems if index is not None else []
        except MnemoError as exc:
            return errors.error_response(503, "not_ready", f"{type(exc).__name__}: {exc}")
        return schemas.Ready(status="ready", warnings=warnings)

    @app.get(
        "/metrics",
        tags=["health"],
        dependencies=[Depends(require("read"))],
        response_class=PlainTextResponse,
        responses=errors.ERROR_RESPONSES,
    )
    def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app

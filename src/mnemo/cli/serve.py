"""`mnemo serve` and `mnemo keys`: run the HTTP server and manage its API keys."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING

import typer

from mnemo.cli.context import JSON, library, state
from mnemo.cli.render import err, out, print_json
from mnemo.config import serving
from mnemo.errors import ConfigError

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.library import Library

keys_app = typer.Typer(help="Create, list and revoke the server's API keys.")


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", "-p", help="TCP port (default 8731)."),
    open_browser: bool = typer.Option(
        False, "--open", help="Open the web app in the default browser once it is serving."
    ),
) -> None:
    """Serve the web app (at /), the REST API, the OpenAI-compatible API and /metrics."""
    import uvicorn

    from mnemo.config import load_settings
    from mnemo.library import Library
    from mnemo.server.app import create_app
    from mnemo.server.auth import active_keys, is_loopback
    from mnemo.server.middleware import JsonFormatter

    cli_state = state(ctx)
    # What the settings are built from, taken before they are read: a CLI whose own
    # inputs are the same hands its commands here without building its settings.
    home = serving.home_of(cli_state.home)
    inputs = serving.inputs(home, cli_state.assignments)
    overrides = cli_state.overrides()
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    overrides["server"] = {**overrides.get("server", {}), **server}
    settings = load_settings(cli_state.home, overrides)
    if settings.home != home:
        inputs = ""
    server_library = Library(settings)  # the server's one Library, for its lifetime
    keys = active_keys(server_library.catalog)
    if not is_loopback(settings.server.host) and keys == 0:
        raise ConfigError(
            f"refusing to serve on {settings.server.host} with no API keys: "
            "create one with `mnemo keys create --scope admin`, or bind to 127.0.0.1"
        )
    if settings.server.host in ("0.0.0.0", "::") and not settings.server.allowed_hosts:
        err.print(
            f"serving on {settings.server.host}: only requests for 127.0.0.1, localhost and "
            "[::1] are answered; list the names clients use in server.allowed_hosts",
            markup=False,
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mnemo.server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # JSON lines only, not also the CLI's console handler
    app = create_app(settings, server_library)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(settings.server.shutdown_timeout) + 5,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # listening: say where, and whether a key is needed
                port = self.servers[0].sockets[0].getsockname()[1] if self.servers else None
                port = port or settings.server.port
                line = _ready_line(settings.server.host, port or settings.server.port, keys)
                err.print(line, markup=False)
                # Load the models in the background; then let the CLI hand queries here.
                threading.Thread(
                    target=_warm_then_publish,
                    args=(server_library, settings, app.state.local_token, port, inputs),
                    name="mnemo-warm-up",
                    daemon=True,
                ).start()
                if open_browser:
                    import webbrowser

                    webbrowser.open(_web_url(settings.server.host, port or settings.server.port))

    try:
        Server(config).run()
    finally:
        serving.remove(settings.home, os.getpid())


def _warm_then_publish(
    library: Library, settings: Settings, token: str, port: int, inputs: str = ""
) -> None:
    library.warm_up()
    _publish(settings, token, port, inputs)


def _publish(settings: Settings, token: str, port: int, inputs: str = "") -> None:
    """Let the CLI of this home hand its searches and questions to this process
    (`mnemo --no-server ...` opts out)."""
    record = serving.ServingRecord(
        pid=os.getpid(),
        url=_web_url(settings.server.host, port).rstrip("/"),
        token=token,
        fingerprint=serving.fingerprint(settings),
        inputs=inputs,
    )
    try:
        serving.write(settings.home, record)
    except OSError as exc:  # the server still serves; the CLI just runs in-process
        err.print(f"note: could not write {settings.home / serving.FILE_NAME}: {exc}")


def _web_url(host: str, port: int) -> str:
    """The web app's address; a wildcard bind is opened through loopback."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _ready_line(host: str, port: int, keys: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if keys:
        state = f"API keys required ({keys} active; send one as 'Authorization: Bearer KEY')"
    else:
        state = (
            "no API key required (none exist, so it serves loopback only); "
            "`mnemo keys create --scope admin` makes one"
        )
    return (
        f"Mnemo is serving http://{shown}:{port} (web app at /): {state}. Press Ctrl-C to stop."
    )


@keys_app.command("create")
def create(
    ctx: typer.Context,
    scope: str = typer.Option(..., "--scope", help="read, write or admin."),
    name: str | None = typer.Option(None, "--name", help="A label to recognise the key by."),
) -> None:
    """Create a key; its secret is printed once and only its hash is kept."""
    from mnemo.server.auth import SCOPES, create_key

    if scope not in SCOPES:
        raise ConfigError(f"--scope {scope!r}: choose one of {', '.join(SCOPES)}")
    catalog = library(ctx).catalog
    key, secret = create_key(catalog, scope, name)  # type: ignore[arg-type]
    out.print(f"created key {key.id} ({key.name}, scope {key.scope}); it is shown only once:")
    print(secret)


@keys_app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every key: id, name, prefix, scope, and when it was revoked."""
    from mnemo.server.auth import list_keys

    catalog = library(ctx).catalog
    keys = list_keys(catalog)
    if as_json:
        print_json([vars(k) for k in keys])
        return
    if not keys:
        out.print(
            "No API keys yet: the server answers loopback requests without one. "
            "Create one with `mnemo keys create --scope admin`.",
            markup=False,
        )
    for k in keys:
        revoked = f" revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        out.print(f"{k.id}\t{k.name}\tmnemo_{k.prefix}_…\t{k.scope}{revoked}", markup=False)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: int = typer.Argument(..., help="The key's id."),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="Revoke it even if it is the last active key: a loopback server then needs "
        "no key at all, and a server on any other address refuses every request.",
    ),
) -> None:
    """Revoke a key at once; requests with it get 401. The last active key needs --no-auth."""
    from mnemo.server.auth import active_keys, revoke_key

    catalog = library(ctx).catalog
    key = revoke_key(catalog, key_id, allow_last=no_auth)
    left = active_keys(catalog)
    out.print(f"revoked key {key.id} ({key.name})", markup=False)
    if left == 0:
        err.print(
            "no active key is left: a server on loopback now answers anyone who can reach it "
            "without a key; one on any other address refuses every request",
            markup=False,
        )

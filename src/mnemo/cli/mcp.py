"""`mnemo mcp`: serve Mnemo to AI agents over the Model Context Protocol, on stdio."""

from __future__ import annotations

import typer

from mnemo.cli.context import COLLECTION, state


def mcp(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Serve search, ask and your documents to an AI agent over MCP on stdin/stdout.

    Configure your MCP client (an editor agent, a desktop assistant) to run `mnemo mcp`.
    Stdout carries only the protocol; logs go to stderr.
    """
    from mnemo.library import Library
    from mnemo.server.mcp_server import build_server

    with Library(state(ctx).settings(collection)) as library:
        build_server(library).run("stdio")

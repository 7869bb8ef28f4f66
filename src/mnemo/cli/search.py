"""`mnemo search`: passages that match a query, with where to find them."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.text import Text

from mnemo.cli import filters as opts
from mnemo.cli import remote
from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for, in your own words or exact terms."),
    k: int = typer.Option(10, "-k", "--limit", min=1, max=1000, help="How many passages to show."),
    mode: str | None = typer.Option(
        None, "--mode", "-m", help="hybrid (default), bm25 (keywords) or dense (meaning)."
    ),
    collection: str | None = COLLECTION,
    path: list[str] = opts.PATH,
    media_type: list[str] = opts.TYPE,
    tag: list[str] = opts.TAG,
    after: str | None = opts.AFTER,
    before: str | None = opts.BEFORE,
    rerank: bool | None = typer.Option(
        None,
        "--rerank/--no-rerank",
        help="Reorder the best search.rerank_candidates hits with the cross-encoder "
        "(default: search.rerank).",
    ),
    as_json: bool = JSON,
) -> None:
    """Search a collection's passages by keyword and by meaning."""
    filters = opts.make_filters(path, media_type, tag, after, before)
    response = via = None
    server = remote.connect(ctx, collection, k=k, text=query)
    if server is not None:
        try:
            response = server.search(query, k=k, mode=mode, filters=filters, rerank=rerank)
            via = server.url
        except remote.Unreachable:
            response = None
    if response is None:
        response = library(ctx, collection).search(
            query, k=k, mode=mode, filters=filters, rerank=rerank
        )
    if as_json:
        print_json(remote.plain(response))
        return
    for warning in response.warnings:
        err.print(f"note: {warning}", markup=False)
    for rank, hit in enumerate(response.hits, start=1):
        where = escape(hit.path)
        if hit.page_start is not None:
            pages = (
                hit.page_start
                if hit.page_start == hit.page_end
                else f"{hit.page_start}-{hit.page_end}"
            )
            where += f" [dim]p. {pages}[/dim]"
        title = escape(hit.title or hit.path.rsplit("/", 1)[-1])
        out.print(f"[bold]{rank}. {title}[/bold]  [dim]{hit.score:.3f}[/dim]")
        out.print(f"   {where}")
        if hit.heading_path:
            out.print(f"   [cyan]{escape(' › '.join(hit.heading_path))}[/cyan]")
        snippet = Text(hit.snippet.replace("\n", " "))
        for start, end in hit.highlights:
            snippet.stylize("bold yellow", start, end)
        out.print(Text("   ").append(snippet))
    used = "+".join(response.used) or "nothing"
    served = f", by the server at {via}" if via else ""
    out.print(
        f"[dim]{len(response.hits)} passage(s) from {response.collection!r} "
        f"({used}, {response.seconds * 1000:.0f} ms{escape(served)})[/dim]"
    )


def reindex(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Rebuild a collection's search index from the catalog (nothing is re-embedded)."""
    lib = library(ctx, collection)
    written = lib.reindex()
    out.print(f"Rebuilt the index of {lib.settings.collection!r} from {written} document(s).")

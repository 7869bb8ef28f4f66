"""`mnemo search`: passages that match a query, with where to find them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import typer
from rich.markup import escape
from rich.text import Text

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json
from mnemo.errors import QueryError
from mnemo.retrieval.filters import local_moment

_RELATIVE = re.compile(r"^(\d+)([hdw])$")


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO date or time (2026-11-01, 2026-11-01T09:30) or an age: 12h, 7d, 2w."""
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        try:
            return datetime.now().astimezone() - timedelta(**{unit: int(match.group(1))})
        except OverflowError:
            raise QueryError(f"{option} {value!r}: that is before the year 1") from None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(
            f"{option} {value!r} is not a date: use e.g. 2026-11-01, 2026-11-01T09:30, 12h, 7d or 2w"
        ) from None
    try:
        return local_moment(parsed)
    except ValueError as exc:
        raise QueryError(f"{option}: {exc}") from None


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for, in your own words or exact terms."),
    k: int = typer.Option(10, "-k", "--limit", min=1, max=1000, help="How many passages to show."),
    mode: str | None = typer.Option(
        None, "--mode", "-m", help="hybrid (default), bm25 (keywords) or dense (meaning)."
    ),
    collection: str | None = COLLECTION,
    path: list[str] = typer.Option(
        [], "--path", "-p", help="Only files matching this glob, e.g. '*.pdf'; repeatable."
    ),
    media_type: list[str] = typer.Option(
        [], "--type", "-t", help="Only this media type, e.g. application/pdf or text/*; repeatable."
    ),
    tag: list[str] = typer.Option([], "--tag", help="Only documents with this tag; repeatable."),
    after: str | None = typer.Option(
        None, "--after", help="Only files modified after this date or age (2026-11-01, 7d)."
    ),
    before: str | None = typer.Option(
        None, "--before", help="Only files modified before this date or age."
    ),
    rerank: bool | None = typer.Option(
        None, "--rerank/--no-rerank", help="Rerank with search.rerank_model (default: if set)."
    ),
    as_json: bool = JSON,
) -> None:
    """Search a collection's passages by keyword and by meaning."""
    from mnemo.retrieval.filters import Filters

    filters = Filters(
        path=tuple(path),
        media_types=tuple(media_type),
        tags=tuple(tag),
        modified_after=_when(after, "--after"),
        modified_before=_when(before, "--before"),
    )
    response = library(ctx, collection).search(
        query, k=k, mode=mode, filters=filters, rerank=rerank
    )
    if as_json:
        print_json(response)
        return
    for warning in response.warnings:
        err.print(f"note: {warning}", markup=False)
    for rank, hit in enumerate(response.hits, start=1):
        where = escape(hit.path)
        if hit.page_start is not None:
            pages = hit.page_start if hit.page_start == hit.page_end else f"{hit.page_start}-{hit.page_end}"
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
    out.print(
        f"[dim]{len(response.hits)} passage(s) from {response.collection!r} "
        f"({used}, {response.seconds * 1000:.0f} ms)[/dim]"
    )


def reindex(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Rebuild a collection's search index from the catalog (nothing is re-embedded)."""
    lib = library(ctx, collection)
    written = lib.reindex()
    out.print(f"Rebuilt the index of {lib.settings.collection!r} from {written} document(s).")

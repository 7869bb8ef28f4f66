"""`mnemo cache`: what the answer caches hold and save; clear them."""

from __future__ import annotations

import typer

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json

cache_app = typer.Typer(help="The answer caches: hit rate, time saved; clear them.")


@cache_app.command("stats")
def stats(ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON) -> None:
    """Cached answers, exact and rephrased hits, misses and the answering time saved."""
    found = library(ctx, collection).cache_stats(collection=collection)
    if as_json:
        print_json({**vars(found), "hit_rate": found.hit_rate})
        return
    asked = found.exact + found.semantic + found.misses
    out.print(f"Cached answers: {found.entries:,}")
    out.print(
        f"Questions: {asked:,}; hits {found.exact:,} exact + {found.semantic:,} rephrased "
        f"({found.hit_rate:.0%}); time saved {found.saved_seconds:.1f} s"
    )


@cache_app.command("clear")
def clear(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Forget cached answers: of one collection with -c, else all (and the counts)."""
    gone = library(ctx, collection).clear_cache(collection=collection)
    out.print(f"Removed {gone:,} cached answer(s).")

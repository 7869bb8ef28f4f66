"""`mnemo related` and `mnemo graph`: a note's connections, and the whole graph written out."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json

graph_app = typer.Typer(help="The note graph: write it out, or work it out again.")


def related(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The note: a path, the end of a path, or a document id."),
    collection: str | None = COLLECTION,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="At most this many of each."),
    as_json: bool = JSON,
) -> None:
    """A note's links, backlinks, and close notes not linked yet, each with why."""
    found = library(ctx, collection).related(name, limit=limit)
    if as_json:
        print_json(asdict(found))
        return
    out.print(f"[bold]{escape(found.title or found.path)}[/bold]  {escape(found.path)}")
    for label, items in (
        ("Links", found.links),
        ("Backlinks", found.backlinks),
        ("Close, not linked yet", found.similar),
        ("Shared tags", found.shared_tags),
    ):
        if not items:
            continue
        out.print(f"\n[bold]{label}[/bold]")
        for item in items:
            out.print(f"  {escape(item.path)}  [dim]{escape(item.why)}[/dim]")
    if found.missing:
        out.print("\n[bold]Links to missing notes[/bold]")
        for missing in found.missing:
            out.print(f"  {escape(missing)}")
    if not (found.links or found.backlinks or found.similar or found.shared_tags or found.missing):
        out.print("No connections yet.")


@graph_app.command("export")
def export(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    fmt: str = typer.Option("graphml", "--format", "-f", help="graphml or json."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
) -> None:
    """Write the collection's graph (notes, missing notes, tags and every edge) out."""
    text = library(ctx, collection).export_graph(fmt)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    output.write_text(text + "\n", encoding="utf-8")
    out.print(f"Wrote {escape(str(output))}.")


@graph_app.command("build")
def build(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Work out every edge again (sync keeps them up to date; this is for older catalogs)."""
    count = library(ctx, collection).rebuild_graph()
    out.print(f"{count} edge(s).")

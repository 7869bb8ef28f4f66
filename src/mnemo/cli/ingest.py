"""Commands that change a collection: add, sync, watch, sources."""

from __future__ import annotations

import threading

import typer
from rich.markup import escape

from mnemo.cli import interrupts
from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json, print_report, progress, summary_line

sources_app = typer.Typer(help="List or remove the paths a collection reads from.")


def add(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        ..., help="Files or folders (read recursively), or web pages by http(s) URL."
    ),
    collection: str | None = COLLECTION,
    include: list[str] = typer.Option(
        [], "--include", "-i", help="Only files matching this glob (gitignore syntax); repeatable."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", "-x", help="Leave out paths matching this glob; repeatable."
    ),
    as_json: bool = JSON,
) -> None:
    """Add files, folders or web pages (URLs) to a collection and index them."""
    with progress(not as_json) as on_event:
        report = library(ctx, collection).add(
            paths, include=include, exclude=exclude, on_event=on_event
        )
    print_json(report.to_dict()) if as_json else print_report(report)
    raise typer.Exit(report.exit_code)


def sync(ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON) -> None:
    """Re-scan a collection's sources: index new and changed files, drop deleted ones."""
    with progress(not as_json) as on_event:
        report = library(ctx, collection).sync(on_event=on_event)
    print_json(report.to_dict()) if as_json else print_report(report)
    raise typer.Exit(report.exit_code)


def watch(ctx: typer.Context, collection: str | None = COLLECTION) -> None:
    """Keep a collection in step with its folders until interrupted (Ctrl-C)."""
    lib = library(ctx, collection)
    stop = threading.Event()

    def ready() -> None:
        err.print(f"Watching collection {lib.settings.collection!r}; press Ctrl-C to stop.")

    try:
        for report in lib.watch(stop=stop, on_ready=ready):
            if any(report.counts[k] for k in report.counts if k != "unchanged"):
                print_report(report)
            else:
                out.print(summary_line(report))
    except KeyboardInterrupt:  # while a sync ran (between syncs, Ctrl-C just ends the loop)
        stop.set()
        interrupts.tell(
            "Interrupted during a sync; nothing is lost: the next `mnemo sync` "
            "or `mnemo watch` finishes it."
        )
        raise typer.Exit(interrupts.INTERRUPTED) from None
    err.print("Stopped watching.")


@sources_app.command("list")
def sources_list(
    ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """The paths a collection reads from, with their globs."""
    rows = [
        {
            "path": s.path,
            "include": s.include,
            "exclude": s.exclude,
            "last_synced_at": s.last_synced_at,
        }
        for s in library(ctx, collection).sources()
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No sources yet: add files with `mnemo add PATH`.")
    for row in rows:
        globs = " ".join([f"+{g}" for g in row["include"]] + [f"-{g}" for g in row["exclude"]])
        out.print(f"{escape(row['path'])}  {escape(globs)}".rstrip())


@sources_app.command("remove")
def sources_remove(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="A path or URL shown by `mnemo sources list`."),
    collection: str | None = COLLECTION,
) -> None:
    """Stop reading a path and forget the documents found through it."""
    removed = library(ctx, collection).remove_source(path)
    out.print(f"Removed source {escape(path)} and {removed} document(s).")

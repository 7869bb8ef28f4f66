"""Commands that report: status, docs list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json, print_table

if TYPE_CHECKING:
    from mnemo.library import Library

docs_app = typer.Typer(help="Documents of a collection and their state.")


def status(ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON) -> None:
    """Documents indexed, skipped and failed, chunks and the last run, per collection."""
    lib = library(ctx, collection)
    settings = lib.settings
    found = lib.status(collection=collection)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print(f"No collections yet in {escape(str(settings.home))}: try `mnemo add PATH`.")
        _where(lib)
        return
    from rich.table import Table

    table = Table(
        "collection", "sources", "indexed", "skipped", "failed", "chunks", "embedded", "last run"
    )
    for item in found:
        run = item.last_run
        last = "never"
        if run is not None:
            when = (run.finished_at or run.started_at).astimezone().strftime("%Y-%m-%d %H:%M")
            last = f"{run.command} {run.status} {when}"
        table.add_row(
            item.name,
            str(item.sources),
            str(item.documents["indexed"]),
            str(item.documents["skipped"]),
            str(item.documents["failed"]),
            str(item.chunks),
            _embedded(item),
            last,
        )
    print_table(table)
    for item in found:
        for emb in item.embeddings:
            label = "serving" if emb.state == "active" else "re-embedding, not serving yet"
            held = "" if emb.indexed is None else f", {emb.indexed} in the index"
            out.print(
                f"[dim]{escape(item.name)}: {escape(emb.embedder)} ({label}): "
                f"{emb.embedded}/{item.chunks} chunks{held}[/dim]"
            )
    for item in found:
        for problem in item.index.problems if item.index else []:
            out.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    _where(lib)
    for warning in _drift_warnings(lib):
        out.print(f"[yellow]warning:[/yellow] answer drift: {escape(warning)}")


def _where(lib: Library) -> None:
    """Where the collections live, and the ingestion queue of every server process."""
    where = lib.deployment()
    out.print(
        f"[dim]catalog: {where.catalog_backend} {escape(where.catalog)}; "
        f"index: {escape(where.index_backend)} {escape(where.index)}[/dim]",
        soft_wrap=True,
    )
    out.print(
        f"[dim]ingestion jobs (every server process): {where.jobs_queued} queued, "
        f"{where.jobs_running} running[/dim]",
        soft_wrap=True,
    )


def _drift_warnings(lib: object) -> list[str]:
    """What `mnemo traces drift` warns of: best-passage relevance or abstentions moved."""
    from mnemo.errors import MnemoError

    if not lib.settings.traces.enabled:  # type: ignore[attr-defined]
        return []
    try:
        reports = lib.drift()  # type: ignore[attr-defined]
    except (MnemoError, OSError):
        return []  # status reports the collections even when the traces cannot be read
    found = []
    for report in reports:
        found += [f"{w} ({report.scale} scale; `mnemo traces drift`)" for w in report.warnings]
    return found


def _embedded(item: object) -> str:
    """Chunks with vectors from the serving embedder, as a share of all chunks, and
    how many of them the index holds when that differs."""
    active = [e for e in item.embeddings if e.state == "active"]  # type: ignore[attr-defined]
    chunks = item.chunks  # type: ignore[attr-defined]
    if not active:
        return "0" if chunks else "-"
    done = active[0].embedded
    shown = f"{done}" if done == chunks else f"{done} ({done * 100 // max(chunks, 1)}%)"
    indexed = active[0].indexed
    if indexed is not None and indexed != done:  # what searches can find, not what is stored
        shown += f", {indexed} in index"
    return shown


@docs_app.command("list")
def docs_list(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    failed: bool = typer.Option(False, "--failed", help="Only files that failed."),
    skipped: bool = typer.Option(False, "--skipped", help="Only files that were skipped."),
    indexed: bool = typer.Option(False, "--indexed", help="Only indexed files."),
    as_json: bool = JSON,
) -> None:
    """Files of a collection with their state and, if not indexed, the reason."""
    chosen = [
        name for name, on in (("failed", failed), ("skipped", skipped), ("indexed", indexed)) if on
    ]
    if len(chosen) > 1:
        raise typer.BadParameter("give at most one of --failed, --skipped, --indexed")
    docs = library(ctx, collection).documents(state=chosen[0] if chosen else None)
    if as_json:
        print_json(docs)
        return
    if not docs:
        out.print("No documents match.")
        return
    from rich.table import Table

    table = Table("state", "path", "chunks", "reason")
    for doc in docs:
        table.add_row(doc.state, escape(doc.path), str(doc.chunks), escape(doc.reason or ""))
    print_table(table)


@docs_app.command("remove")
def docs_remove(
    ctx: typer.Context,
    document: str = typer.Argument(
        ..., help="The document: its id, path, end of path or file name (see `mnemo docs list`)."
    ),
    collection: str | None = COLLECTION,
) -> None:
    """Remove one document from a collection and its index (the file itself stays).

    A file below a folder the collection reads comes back at the next sync: exclude it
    (`mnemo add FOLDER --exclude GLOB`) or remove the folder with `mnemo sources remove`."""
    path = library(ctx, collection).remove_document(document, collection=collection)
    out.print(f"Removed {escape(path)} from the collection.")

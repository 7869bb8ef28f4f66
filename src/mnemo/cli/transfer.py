"""`mnemo export` and `mnemo import`: notes, tables and whole collections out and back in."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, library
from mnemo.cli.render import out

export_app = typer.Typer(help="Get knowledge out: notes, CSV/JSON tables, whole collections.")
FORMAT = typer.Option("csv", "--format", "-f", help="csv or json.")
OUTPUT = typer.Option(None, "--output", "-o", help="File to write (default: stdout).")


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"Wrote {escape(str(output))}.")


def _check(fmt: str) -> None:
    from mnemo.transfer.tables import TABLE_FORMATS

    if fmt not in TABLE_FORMATS:
        raise typer.BadParameter(
            f"{fmt!r}: choose one of {', '.join(TABLE_FORMATS)}", param_hint="--format"
        )


@export_app.command("collection")
def collection_(
    ctx: typer.Context,
    archive: Path = typer.Argument(..., help="The archive to write (a .zip)."),
    collection: str | None = COLLECTION,
) -> None:
    """The whole collection (catalog, vectors, conversations, graph, settings) to one archive."""
    counts = library(ctx, collection).export_collection(archive)
    docs, chunks = counts.get("documents", 0), counts.get("chunks", 0)
    out.print(
        f"Wrote {escape(str(archive))}: {docs} document(s), {chunks} chunk(s), "
        f"{counts.get('conversations', 0)} conversation(s)."
    )


@export_app.command("conversation")
def conversation(
    ctx: typer.Context,
    conversation_id: str = typer.Argument(
        ..., help="The conversation's id (`mnemo conversations list`)."
    ),
    to: Path = typer.Option(
        ..., "--to", help="Folder to write the note into (e.g. in your vault)."
    ),
) -> None:
    """A conversation as an Obsidian note, each citation a link back to its source."""
    path = library(ctx).conversation_note(conversation_id, to)
    out.print(f"Wrote {escape(str(path))}.")


@export_app.command("answer")
def answer(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question to answer."),
    to: Path = typer.Option(..., "--to", help="Folder to write the note into."),
    collection: str | None = COLLECTION,
) -> None:
    """Ask a question and keep the answer as an Obsidian note with linked citations."""
    lib = library(ctx, collection)
    path = lib.answer_note(lib.ask(question), to)
    out.print(f"Wrote {escape(str(path))}.")


@export_app.command("search")
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to search for."),
    k: int = typer.Option(20, "-k", min=1, help="How many results."),
    collection: str | None = COLLECTION,
    fmt: str = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """Search results as CSV or JSON."""
    from mnemo.transfer.tables import HIT_COLUMNS, write_rows

    _check(fmt)
    hits = library(ctx, collection).search(query, k=k).hits
    rows = [{"rank": n, **asdict(h)} for n, h in enumerate(hits, 1)]
    _emit(write_rows(rows, HIT_COLUMNS, fmt), output)


@export_app.command("docs")
def docs(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    fmt: str = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """The collection's documents, with state and reason, as CSV or JSON."""
    from mnemo.transfer.tables import DOCUMENT_COLUMNS, write_rows

    _check(fmt)
    rows = [asdict(d) for d in library(ctx, collection).documents()]
    _emit(write_rows(rows, DOCUMENT_COLUMNS, fmt), output)


def import_(
    ctx: typer.Context,
    archive: Path = typer.Argument(..., help="An archive written by `mnemo export collection`."),
    as_name: str | None = typer.Option(None, "--as", help="Import under this collection name."),
) -> None:
    """Read a collection archive in (its index is written again; nothing is re-embedded)."""
    name, counts, settings = library(ctx).import_collection(archive, name=as_name)
    out.print(
        f"Imported collection {name!r}: {counts.get('documents', 0)} document(s), "
        f"{counts.get('chunks', 0)} chunk(s), {counts.get('conversations', 0)} conversation(s)."
    )
    if settings:
        out.print(f"Its settings are in {escape(settings)}.")

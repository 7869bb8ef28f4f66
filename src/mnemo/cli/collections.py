"""`mnemo collections`: list, create, rename and delete collections."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from mnemo.cli.context import JSON, library
from mnemo.cli.render import out, print_json

collections_app = typer.Typer(help="List, create, rename and delete collections.")


@collections_app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every collection, with its documents and chunks (`mnemo status` says more)."""
    found = library(ctx).status(check_index=False)
    if as_json:
        print_json([{"name": c.name, "documents": c.documents, "chunks": c.chunks} for c in found])
        return
    if not found:
        out.print("No collections yet: `mnemo add PATH` makes one.")
    for item in found:
        docs = sum(item.documents.values())
        out.print(f"{escape(item.name)}  {docs} document(s), {item.chunks} chunk(s)")


@collections_app.command("create")
def create(ctx: typer.Context, name: str = typer.Argument(..., help="The new collection.")) -> None:
    """Create an empty collection."""
    library(ctx).create_collection(name)
    out.print(f"Created collection {name!r}; add files with `mnemo add PATH -c {name}`.")


@collections_app.command("rename")
def rename(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The collection's name now."),
    new_name: str = typer.Argument(..., help="Its new name."),
) -> None:
    """Rename a collection; its index is rewritten from the catalog (nothing is re-embedded)."""
    lib = library(ctx)
    lib.rename_collection(name, new_name)
    out.print(f"Renamed collection {name!r} to {new_name!r}.")
    if lib.settings.collection == name:
        out.print(
            f"It was the default collection: `mnemo config set collection {new_name}` keeps it so."
        )


@collections_app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The collection to forget."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Forget a collection: its documents, conversations and index (your files stay)."""
    lib = library(ctx)
    lib.collection(name)  # an unknown name is an error before any question
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter(
                "not on a terminal: give --yes to delete it", param_hint="--yes"
            )
        if not typer.confirm(f"Delete collection {name!r} and its index?"):
            raise typer.Exit(1)
    lib.delete_collection(name)
    out.print(f"Deleted collection {name!r} (the files themselves were not touched).")

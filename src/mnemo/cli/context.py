"""State shared by all commands: where the data lives and the flags given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.library import Library


@dataclass
class State:
    home: Path | None = None
    assignments: list[str] = field(default_factory=list)
    debug: bool = False
    no_server: bool = False  # never hand a command to a running `mnemo serve`
    _library: Library | None = None

    def overrides(self, collection: str | None = None) -> dict[str, Any]:
        # The settings models are imported only when a command needs them: a command
        # handed to `mnemo serve` does not (see mnemo.cli.remote).
        from mnemo.config.settings import parse_assignments

        values = parse_assignments(self.assignments)
        if collection is not None:
            values["collection"] = collection
        return values

    def settings(self, collection: str | None = None) -> Settings:
        from mnemo.config import load_settings

        return load_settings(self.home, self.overrides(collection))

    def provenance(self) -> tuple[Settings, dict[str, str]]:
        from mnemo.config.settings import settings_provenance

        return settings_provenance(self.home, self.overrides())


def library(ctx: typer.Context, collection: str | None = None) -> Library:
    """The command's one Library (imported only when a command needs it: fast --help),
    closed when the command ends."""
    from mnemo.library import Library

    found = state(ctx)
    if found._library is None:
        found._library = Library(found.settings(collection))
        ctx.find_root().call_on_close(found._library.close)
    return found._library


def state(ctx: typer.Context) -> State:
    found = ctx.find_root().obj
    assert isinstance(found, State)
    return found


COLLECTION = typer.Option(
    None, "--collection", "-c", help="Collection to use (default: the `collection` setting)."
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")

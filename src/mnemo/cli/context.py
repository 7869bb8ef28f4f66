"""State shared by all commands: where the data lives and the flags given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from mnemo.config import Settings, load_settings
from mnemo.config.settings import parse_assignments, settings_provenance


@dataclass
class State:
    home: Path | None = None
    assignments: list[str] = field(default_factory=list)
    debug: bool = False

    def overrides(self, collection: str | None = None) -> dict[str, Any]:
        values = parse_assignments(self.assignments)
        if collection is not None:
            values["collection"] = collection
        return values

    def settings(self, collection: str | None = None) -> Settings:
        return load_settings(self.home, self.overrides(collection))

    def provenance(self) -> tuple[Settings, dict[str, str]]:
        return settings_provenance(self.home, self.overrides())


def core() -> ModuleType:
    """The Python API, imported only when a command needs it (fast --help)."""
    from mnemo import api

    return api


def state(ctx: typer.Context) -> State:
    found = ctx.find_root().obj
    assert isinstance(found, State)
    return found


COLLECTION = typer.Option(
    None, "--collection", "-c", help="Collection to use (default: the `collection` setting)."
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")

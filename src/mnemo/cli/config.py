"""`mnemo config show`: the effective settings and where each came from."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mnemo.cli.context import JSON, state
from mnemo.cli.render import out, print_json
from mnemo.config.settings import flatten
from mnemo.retrieval.models import files_in_use

config_app = typer.Typer(help="Inspect settings.")


@config_app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Print every setting, its value and its origin (default, mnemo.toml, env or flag)."""
    settings, origins = state(ctx).provenance()
    values = flatten(settings.model_dump(mode="json"))
    models = files_in_use(settings)
    if as_json:
        shown = {key: {"value": values[key], "from": origins[key]} for key in values}
        shown |= {f"model_files.{k}": {"value": v, "from": "in use"} for k, v in models.items()}
        print_json(shown)
        return
    out.print(f"settings file: {escape(str(settings.settings_file))}")
    table = Table("setting", "value", "from")
    for key, value in values.items():
        table.add_row(key, escape(repr(value) if isinstance(value, str) else str(value)), origins[key])
    out.print(table)
    for role, where in models.items():
        out.print(f"{role} model files: {escape(where)}")

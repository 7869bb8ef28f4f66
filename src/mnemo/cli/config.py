"""`mnemo config show`: the effective settings and where each came from."""

from __future__ import annotations

import typer
from rich.markup import escape

from mnemo.cli.context import JSON, state
from mnemo.cli.render import out, print_json, print_table

config_app = typer.Typer(help="Inspect and change settings.")


@config_app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Print every setting, its value and its origin (default, mnemo.toml, env or flag)."""
    from mnemo.library import Library

    settings, origins = state(ctx).provenance()
    rows, models = Library(settings).describe_settings(origins)
    if as_json:
        shown = {row.key: {"value": row.value, "from": row.origin} for row in rows}
        shown |= {f"model_files.{k}": {"value": v, "from": "in use"} for k, v in models.items()}
        print_json(shown)
        return
    out.print(f"settings file: {escape(str(settings.settings_file))}")
    from rich.table import Table

    table = Table("setting", "value", "from")
    for row in rows:
        value = row.value
        table.add_row(
            row.key, escape(repr(value) if isinstance(value, str) else str(value)), row.origin
        )
    print_table(table)
    for role, where in models.items():
        out.print(f"{role} model files: {escape(where)}")


@config_app.command("set")
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A setting, as `mnemo config show` names it."),
    value: str = typer.Argument(..., help='Its value; lists and tables as JSON: \'["a", "b"]\'.'),
) -> None:
    """Write a setting into the data directory's mnemo.toml (comments are kept)."""
    from mnemo.config.edit import set_setting

    path, stored = set_setting(state(ctx).home, key, value)
    out.print(f"{key} = {stored!r} in {path}", markup=False)

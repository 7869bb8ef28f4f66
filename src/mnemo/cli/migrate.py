"""`mnemo migrate`: move collections to another catalog or index, without re-embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mnemo.cli.context import JSON, library, state
from mnemo.cli.render import out, print_json

TO = typer.Option(
    ...,
    "--to",
    help="A setting of the target, as with --set; repeatable, e.g. "
    "--to index.backend=milvus --to catalog.url=postgresql+psycopg://mnemo@db/mnemo "
    "(back: --to index.backend=lancedb --to catalog.url=).",
)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def migrate(
    ctx: typer.Context,
    to: list[str] = TO,
    collection: list[str] = typer.Option(
        [], "--collection", "-c", help="Only this collection (repeatable; default: all)."
    ),
    to_home: Path | None = typer.Option(
        None, "--to-home", help="The target's data directory (default: this one)."
    ),
    sample: int = typer.Option(
        20, "--sample", min=1, help="Chunks per collection whose searches are compared."
    ),
    as_json: bool = JSON,
) -> None:
    """Copy collections to another catalog (PostgreSQL or SQLite) and/or index
    (Milvus or LanceDB), vectors included, and check the copy by counts and by
    comparing searches. Stop other Mnemo processes first; afterwards, set the
    same --to values in mnemo.toml to use the copy."""
    found = state(ctx)
    from mnemo.config import load_settings
    from mnemo.config.settings import parse_assignments

    overrides = _merge(found.overrides(), parse_assignments(to))
    target = load_settings(to_home or found.home, overrides)
    report = library(ctx).migrate(target, collections=list(collection) or None, sample=sample)
    if as_json:
        print_json(report)
    else:
        if report.catalog_copied is not None:
            rows = sum(report.catalog_copied.values())
            out.print(f"catalog copied: {rows:,} rows in {len(report.catalog_copied)} tables")
        from rich.table import Table

        table = Table(
            "collection", "chunks", "text rows", "vectors", "dense same", "keyword overlap"
        )
        for check in report.collections:
            table.add_row(
                check.name,
                f"{check.chunks:,}",
                f"{check.text_rows[1]:,}",
                ", ".join(f"{dst:,}" for _, dst in check.vector_rows.values()) or "-",
                f"{check.dense_identical}/{check.dense_sampled}",
                f"{check.keyword_overlap:.2f} ({check.keyword_sampled})",
            )
        out.print(table)
        for check in report.collections:
            for problem in check.problems:
                out.print(f"[red]{check.name}: {problem}[/red]")
        if report.ok:
            out.print("copy verified; to use it, set in mnemo.toml: " + ", ".join(to))
    if not report.ok:
        raise typer.Exit(1)

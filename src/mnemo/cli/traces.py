"""`mnemo traces`: what asks, searches and ingestion runs did, span by span, and drift."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from mnemo.cli.context import JSON, library
from mnemo.cli.render import out, print_json

traces_app = typer.Typer(help="Traces of asks, searches and ingestion runs; answer drift.")

_SHOWN = ("mnemo.question", "mnemo.kind", "mnemo.model", "mnemo.command", "mnemo.collection")


@traces_app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
    name: str | None = typer.Option(None, "--name", help="Only these: ask, search or ingest."),
    as_json: bool = JSON,
) -> None:
    """The latest traces: id, what it was, when, how long."""
    found = library(ctx).traces(limit=limit, name=name)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print("No traces yet: asks, searches and `mnemo add` record them (traces.enabled).")
        return
    from rich.table import Table

    table = Table("id", "what", "started", "ms", "spans", "about")
    for trace in found:
        about = " · ".join(str(trace.attributes[k]) for k in _SHOWN if trace.attributes.get(k))
        table.add_row(
            trace.trace_id[:16],
            trace.name,
            trace.started.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            f"{trace.milliseconds:,.0f}",
            str(trace.spans),
            escape(about[:80]),
        )
    out.print(table)


@traces_app.command("show")
def show(
    ctx: typer.Context,
    trace_id: str = typer.Argument(..., help="The trace's id, or enough of its start."),
    as_json: bool = JSON,
) -> None:
    """One trace as a tree of spans with their times and attributes."""
    root = library(ctx).trace(trace_id)
    if as_json:
        print_json(root)
        return
    for depth, node in root.walk():
        status = "" if node.status in ("unset", "ok") else f" [red]{node.status}[/red]"
        out.print(f"{'  ' * depth}[bold]{node.name}[/bold] {node.milliseconds:,.1f} ms{status}")
        for key, value in sorted(node.attributes.items()):
            out.print(f"{'  ' * depth}  [dim]{escape(key)} = {escape(_short(value))}[/dim]")


@traces_app.command("drift")
def drift(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Has the best passage's relevance or the abstention rate moved lately?"""
    reports = library(ctx).drift()
    if as_json:
        print_json(reports)
        return
    if not reports:
        out.print("No answers traced yet: drift needs asks on file.")
        return
    for report in reports:
        out.print(
            f"[bold]relevance on the {report.scale} scale[/bold] (windows of {report.window})"
        )
        for label, window in (("earlier", report.earlier), ("recent", report.recent)):
            if window is None:
                out.print(f"  {label}: not enough answers yet")
                continue
            mean = "n/a" if window.mean_relevance is None else f"{window.mean_relevance:.3f}"
            out.print(
                f"  {label}: {window.answers} answers, mean best relevance {mean}, "
                f"abstained {window.abstention_rate:.0%}, embedder {', '.join(window.embedders)}"
            )
        for warning in report.warnings:
            out.print(f"  [yellow]warning: {escape(warning)}[/yellow]")
        if report.earlier is not None and not report.warnings:
            out.print("  no drift")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."

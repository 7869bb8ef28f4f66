"""Terminal output: consoles, progress bars, run summaries, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # imported where used: `mnemo search` draws no table and no bar
    from rich.table import Table

    from mnemo.events import Event, EventHandler
    from mnemo.report import RunReport

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SHOWN = 10


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def print_table(table: Table) -> None:
    """A table on the terminal's width; in a pipe (no width to fit) as wide as its
    content, so that no word is cut: use --json for machines."""
    from rich.measure import Measurement

    if out.is_terminal:
        out.print(table)
        return
    wide = Console(width=10_000, highlight=False)  # writes to sys.stdout, as ``out`` does
    width = Measurement.get(wide, wide.options, table).maximum
    Console(width=max(width, out.width), highlight=False).print(table)


def print_json(value: Any) -> None:
    print(json.dumps(_plain(value), indent=2, ensure_ascii=False))


@contextmanager
def progress(enabled: bool = True) -> Iterator[EventHandler]:
    """An event handler drawing a progress bar on a terminal; silent otherwise."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not (enabled and err.is_terminal),
    )
    task = bar.add_task("Scanning", total=None)
    unit = bar.columns[4]

    def handle(event: Event) -> None:
        if event.kind == "scanned":
            bar.update(task, description="Indexing", total=event.total, completed=0)
        elif event.kind == "file" and event.outcome != "removed":
            bar.advance(task)
        elif event.kind == "embedding":
            unit.text_format = "chunks"  # type: ignore[attr-defined]
            bar.update(task, description="Embedding", total=event.total, completed=0)
        elif event.kind == "embedded":
            bar.advance(task, event.total)

    with bar:
        yield handle


def summary_line(report: RunReport) -> str:
    counts = report.counts
    parts = [f"{counts['indexed']} indexed", f"{counts['unchanged']} unchanged"]
    parts += [f"{counts[k]} {k}" for k in ("moved", "removed", "skipped", "failed") if counts[k]]
    seconds = report.seconds.get("total", 0.0)
    return f"{report.collection}: " + ", ".join(parts) + f" ({seconds:.1f} s)"


def print_report(report: RunReport) -> None:
    out.print(summary_line(report))
    embedding = report.embedding
    if embedding.embedded or embedding.pending:
        waiting = f", {embedding.pending} waiting" if embedding.pending else ""
        out.print(f"Embedded {embedding.embedded} chunk(s){waiting} ({embedding.seconds:.1f} s).")
    if embedding.reused:
        out.print(
            f"Reused {embedding.reused} stored vector(s) (the same text is already embedded)."
        )
    if embedding.error:
        err.print(
            f"embedding stopped: {embedding.error}. Keyword search works meanwhile; "
            "run `mnemo sync` again to finish.",
            markup=False,
        )
    for note in [*embedding.notes, *report.index_repairs]:
        err.print(f"note: {note}", markup=False)
    for outcome, label in (("failed", "Failed"), ("skipped", "Skipped")):
        items = [o for o in report.outcomes if o.outcome == outcome]
        if not items:
            continue
        out.print(f"{label}:")
        for item in items[:SHOWN]:
            out.print(f"  {escape(item.path)}: {escape(item.reason or '')}")
        if len(items) > SHOWN:
            out.print(f"  … and {len(items) - SHOWN} more: mnemo docs list --{outcome}")

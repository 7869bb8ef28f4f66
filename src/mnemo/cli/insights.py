"""`mnemo digest` and `mnemo topics`: what changed and how it connects; the collection's topics."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def since_time(text: str) -> datetime:
    """``7d``, ``12h``, ``2w`` before now, or an ISO date; BadParameter otherwise."""
    match = _SPAN.match(text)
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a span like 7d, 12h or 2w, nor a date like 2026-11-01"
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def digest(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="How far back: 7d, 12h, 2w or a date."),
    collection: str | None = COLLECTION,
    as_json: bool = JSON,
) -> None:
    """What was added or changed, by topic, with the older notes each connects to;
    links to missing notes, near-duplicates and orphans."""
    found = library(ctx, collection).digest(since_time(since))
    if as_json:
        print_json(asdict(found))
        return
    out.print(
        f"[bold]Since {found.since:%Y-%m-%d %H:%M}[/bold]: {found.changed} note(s) added or changed"
    )
    for group in found.groups:
        out.print(f"\n[bold]{escape(group.topic)}[/bold]")
        for change in group.changes:
            mark = "new" if change.new else "changed"
            out.print(f"  {mark}: {escape(change.document.path)}")
            if change.connects_to:
                shown = ", ".join(
                    f"{escape(d.title or d.path)} ({how})" for d, how in change.connects_to[:5]
                )
                out.print(f"    connects to {len(change.connects_to)} older note(s): {shown}")
    if found.missing:
        out.print("\n[bold]Links to missing notes[/bold]")
        for item in found.missing:
            out.print(f"  {escape(item.document.path)} → {escape(', '.join(item.missing))}")
    if found.duplicates:
        out.print("\n[bold]Near-duplicates[/bold]")
        for pair in found.duplicates:
            out.print(
                f"  {escape(pair.first.path)} ≈ {escape(pair.second.path)} ({pair.similarity:.0%} overlap)"
            )
    if found.orphans:
        out.print("\n[bold]Orphans[/bold] (no note links to them or resembles them)")
        for doc in found.orphans:
            out.print(f"  {escape(doc.path)}")


def topics(ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON) -> None:
    """The collection's topics: groups of connected notes, labelled by their keywords."""
    found = library(ctx, collection).topics()
    if as_json:
        print_json([asdict(t) for t in found])
        return
    if not found:
        out.print("No topics yet: notes need links or similar neighbours to group.")
    for topic in found:
        out.print(f"[bold]{escape(topic.label)}[/bold]  {len(topic.documents)} note(s)")
        for doc in topic.documents[:8]:
            out.print(f"  {escape(doc.path)}")

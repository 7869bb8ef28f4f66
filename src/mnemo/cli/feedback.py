"""`mnemo feedback`: judge answers, list and export the judgements."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json
from mnemo.errors import ConversationError

feedback_app = typer.Typer(help="Judge answers (thumbs, ratings, corrections); list and export.")


@feedback_app.command("give")
def give(
    ctx: typer.Context,
    message_id: str = typer.Argument(
        ..., help="The answer's message id (printed under it; `mnemo feedback list` shows them)."
    ),
    up: bool = typer.Option(False, "--up", help="Thumbs up: a good answer."),
    down: bool = typer.Option(False, "--down", help="Thumbs down: a wrong or useless answer."),
    rating: int | None = typer.Option(None, "--rating", min=1, max=5, help="1 (bad) to 5."),
    correct: str | None = typer.Option(None, "--correct", help="What the answer should be."),
    save_note: bool = typer.Option(
        False,
        "--save-note",
        help="Keep the correction as a note in the collection, so later answers can cite it.",
    ),
) -> None:
    """Judge one answer; every judged-bad answer becomes a case of `mnemo eval`."""
    if up and down:
        raise ConversationError("--up or --down, not both")
    thumbs = "up" if up else "down" if down else None
    saved, note = library(ctx).judge(
        message_id, thumbs=thumbs, rating=rating, correction=correct, save_note=save_note
    )
    out.print(f"Saved feedback {saved.id} on answer {escape(message_id)}.")
    if note is not None:
        out.print(f"The correction is now a note of the collection: {escape(str(note))}")


@feedback_app.command("list")
def list_feedback(
    ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """Every judgement, oldest first: of every collection unless -c names one."""
    found = library(ctx, collection).feedback_entries(collection=collection)
    if as_json:
        print_json([_row(e) for e in found])
        return
    if not found:
        out.print("No feedback yet: `mnemo feedback give MESSAGE_ID --up` judges an answer.")
    for e in found:
        verdict = " ".join(
            x
            for x in (
                {"up": "👍", "down": "👎"}.get(e.thumbs or "", ""),
                f"{e.rating}/5" if e.rating else "",
                "corrected" if e.correction else "",
            )
            if x
        )
        when = e.created_at.strftime("%Y-%m-%d %H:%M")
        out.print(f"{e.message_id}  {when}  {escape(e.collection)}  {verdict}")
        out.print(f"   [dim]Q: {escape(e.question[:120])}[/dim]")
        if e.correction:
            out.print(f"   [dim]correction: {escape(e.correction[:200])}[/dim]")


@feedback_app.command("export")
def export(
    ctx: typer.Context,
    output: Path = typer.Argument(..., help="The JSONL file to write (one judgement a line)."),
    collection: str | None = COLLECTION,
) -> None:
    """Write every judgement, with its question and answer, as JSON lines."""
    found = library(ctx, collection).feedback_entries(collection=collection)
    with output.open("w", encoding="utf-8") as handle:
        for entry in found:
            handle.write(json.dumps(_row(entry), ensure_ascii=False) + "\n")
    out.print(f"Wrote {len(found)} judgement(s) to {escape(str(output))}.")


def _row(entry: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(entry)  # type: ignore[call-overload]
    data["created_at"] = data["created_at"].isoformat()
    data["bad"] = entry.bad  # type: ignore[attr-defined]
    return data

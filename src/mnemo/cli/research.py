"""`mnemo ask --research` (a live step list, then the checked answer) and `mnemo memory`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json

if TYPE_CHECKING:
    from mnemo.agents.types import ResearchAnswer, ResearchEvent
    from mnemo.generation.types import Answer

memory_app = typer.Typer(help="What Mnemo remembers you said: list, add, edit and forget.")

_ICON = {
    "plan": "🧭",
    "tool": "🔎",
    "tool_error": "⚠",
    "grade": "⚖",
    "synthesise": "✍",
    "verify": "✔",
    "memory": "🧠",
    "budget": "⏱",
    "model": "🤖",
    "resume": "↻",
}


@contextmanager
def step_list(enabled: bool) -> Iterator[Any]:
    """An event handler that shows each step as it happens: a live list on a terminal,
    one line per step otherwise (stderr), nothing with ``enabled`` False."""
    from rich.live import Live
    from rich.text import Text

    lines: list[str] = []

    def line(event: ResearchEvent) -> str:
        return f"{_ICON.get(event.kind, '•')} {event.seconds:6.2f}s  {event.message}"

    if not enabled:
        yield None
        return
    if not err.is_terminal:

        def plain(event: ResearchEvent) -> None:
            err.print(line(event), markup=False)

        yield plain
        return
    with Live(Text(""), console=err, refresh_per_second=8, transient=False) as live:

        def live_step(event: ResearchEvent) -> None:
            lines.append(line(event))
            live.update(Text("\n".join(lines[-30:])))

        yield live_step


def run_research(
    ctx: typer.Context,
    question: str,
    *,
    collection: str | None,
    extractive: bool,
    as_json: bool,
    resume: str | None = None,
    show: Callable[[Answer], None],
    plain_answer: Callable[[Answer], dict[str, object]],
) -> None:
    """Research mode for `mnemo ask --research`; ``show`` and ``plain_answer`` are
    `mnemo ask`'s own renderers of the answer (passed in: cli.ask imports this module)."""
    lib = library(ctx, collection)
    with step_list(not as_json) as on_event:
        result = lib.research(
            question if resume is None else None,
            collection=collection,
            use_llm=False if extractive else None,
            on_event=on_event,
            run_id=resume,
        )
    if as_json:
        print_json(plain(result, plain_answer))
        return
    show_research(result, show)


def show_research(result: ResearchAnswer, show_answer: Callable[[Answer], None]) -> None:
    if result.remembered is not None:
        out.print(
            f"[bold]Remembered[/bold] (#{result.remembered.id}): {escape(result.remembered.text)}"
        )
    show_answer(result.answer)
    for index, memory in enumerate(result.memories, 1):
        out.print(
            f" [M{index}] [magenta]memory[/magenta] #{memory.id}, said {memory.created_at:%Y-%m-%d} "
            f"({escape(memory.said_in)}): {escape(memory.text)}"
        )
    if result.unanswered:
        out.print("[yellow]Not answered by the documents:[/yellow]")
        for question in result.unanswered:
            out.print(f" - {escape(question)}")
    out.print(f"[dim]research run {result.run_id}: {result.steps} step(s)[/dim]")


def plain(
    result: ResearchAnswer, plain_answer: Callable[[Answer], dict[str, object]]
) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "run_id": result.run_id,
        "answer": plain_answer(result.answer),
        "parts": [asdict(p) for p in result.parts],
        "unanswered": result.unanswered,
        "memories": [asdict(m) for m in result.memories],
        "remembered": asdict(result.remembered) if result.remembered else None,
        "trace": [asdict(e) for e in result.trace],
        "stopped": result.stopped,
        "interrupted": result.interrupted,
    }


@memory_app.command("list")
def list_memories(
    ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """What is remembered in a collection."""
    found = library(ctx, collection).memories(collection=collection)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print('Nothing remembered yet: `mnemo memory add "Ana is my manager"`.')
    for memory in found:
        out.print(
            f"#{memory.id}  {escape(memory.text)}  [dim]({memory.said_in}, "
            f"{memory.updated_at:%Y-%m-%d %H:%M})[/dim]"
        )


@memory_app.command("add")
def add_memory(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="A fact or preference, e.g. 'Ana is my manager'."),
    collection: str | None = COLLECTION,
) -> None:
    """Remember a fact or preference for later answers."""
    memory = library(ctx, collection).remember(text, collection=collection, said_in="cli")
    out.print(f"Remembered #{memory.id}: {escape(memory.text)}")


@memory_app.command("edit")
def edit_memory(
    ctx: typer.Context,
    memory_id: int = typer.Argument(..., help="The number `mnemo memory list` shows."),
    text: str = typer.Argument(..., help="The new text."),
    collection: str | None = COLLECTION,
) -> None:
    """Change what a memory says."""
    memory = library(ctx, collection).edit_memory(memory_id, text, collection=collection)
    out.print(f"Memory #{memory.id} now says: {escape(memory.text)}")


@memory_app.command("forget")
def forget_memory(
    ctx: typer.Context,
    memory_id: int = typer.Argument(..., help="The number `mnemo memory list` shows."),
    collection: str | None = COLLECTION,
) -> None:
    """Forget one memory."""
    memory = library(ctx, collection).forget(memory_id, collection=collection)
    out.print(f"Forgot #{memory.id}: {escape(memory.text)}")

"""`mnemo ask`, `mnemo chat` and `mnemo conversations`: answers with checked citations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from mnemo.cli import filters as opts
from mnemo.cli import remote
from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json
from mnemo.errors import SourceError

if TYPE_CHECKING:
    from mnemo.generation.types import Answer, Citation
    from mnemo.library import Library
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.filters import Filters

conversations_app = typer.Typer(help="List, show and delete saved conversations.")

_MARK = {"supported": "[green]✓[/green]"}


def ask(
    ctx: typer.Context,
    question: str | None = typer.Argument(
        None, help="A question about your documents (or give --audio)."
    ),
    audio: Path | None = typer.Option(
        None,
        "--audio",
        help="Ask the question spoken in this recording (WAV, MP3, M4A, WebM, Ogg…); it is "
        "sent to the transcription.base_url server only.",
        dir_okay=False,
    ),
    doc: list[str] = typer.Option(
        [],
        "--doc",
        "-d",
        help="Answer over the whole of this document (summaries, lists, comparisons); "
        "a path or file name; repeatable.",
    ),
    extractive: bool = typer.Option(
        False, "--extractive", help="Quote the best sentences even when an LLM is configured."
    ),
    mode: str | None = typer.Option(None, "--mode", "-m", help="Retrieval: hybrid, bm25 or dense."),
    collection: str | None = COLLECTION,
    path: list[str] = opts.PATH,
    media_type: list[str] = opts.TYPE,
    tag: list[str] = opts.TAG,
    after: str | None = opts.AFTER,
    before: str | None = opts.BEFORE,
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Answer afresh, not from the answer cache."
    ),
    as_json: bool = JSON,
    research: bool = typer.Option(
        False, "--research", help="Plan, search for each part, check and cite (research mode)."
    ),
    resume: str | None = typer.Option(None, "--resume-run", help="Resume research run ID."),
) -> None:
    """Answer a question from your documents, citing file and page for each claim."""
    if research or resume:
        from mnemo.cli.research import run_research

        if not resume or question is not None or audio is not None:
            question = _question(ctx, question, audio, collection, quiet=as_json)
        return run_research(
            ctx,
            question or "",
            collection=collection,
            extractive=extractive,
            as_json=as_json,
            resume=resume,
            show=show_answer,
            plain_answer=_plain,
        )
    filters = opts.make_filters(path, media_type, tag, after, before)
    question = _question(ctx, question, audio, collection, quiet=as_json)
    streamed = _Streamer(enabled=not as_json)
    server = remote.connect(ctx, collection, text=question)
    if server is not None:
        try:
            given = server.ask(
                question,
                documents=doc,
                filters=filters,
                mode=mode,
                extractive=extractive,
                cache=False if no_cache else None,
                on_text=streamed if not as_json else None,
            )
        except remote.Unreachable:
            pass
        else:
            if as_json:
                print_json(remote.answer_json(given))
                return
            show_answer(remote.answer_namespace(given), streamed.text, via=server.url)
            _judge_hint(given.get("message_id"))
            return
    lib = library(ctx, collection)
    answer = lib.ask(
        question,
        documents=doc,
        filters=filters,
        mode=mode,
        use_llm=False if extractive else None,
        on_text=streamed if not as_json else None,
        cache=False if no_cache else None,
    )
    message = lib.log_answer(answer, "the CLI")  # so that `mnemo feedback` can judge it
    if as_json:
        print_json({**_plain(answer), "message_id": message})
        return
    show_answer(answer, streamed.text)
    _judge_hint(message)


def _judge_hint(message: str | None) -> None:
    if message:
        out.print(f"[dim]message id {message}: judge it with `mnemo feedback give {message} --up`[/dim]")


def _question(
    ctx: typer.Context,
    typed: str | None,
    audio: Path | None,
    collection: str | None,
    *,
    quiet: bool,
) -> str:
    """The typed question, or the one spoken in ``audio`` (shown before the answer)."""
    if (typed is None) == (audio is None):
        raise typer.BadParameter("give a question, or --audio FILE with a spoken one")
    if typed is not None:
        return typed
    assert audio is not None
    try:
        data = audio.read_bytes()
    except OSError as exc:
        raise SourceError(f"{audio}: cannot read the recording ({exc.strerror})") from exc
    heard = library(ctx, collection).hear(data, audio.name)
    if not quiet:
        out.print(f"[dim]Heard:[/dim] {escape(heard)}")
    return heard


def chat(
    ctx: typer.Context,
    resume: str | None = typer.Option(None, "--resume", "-r", help="Continue conversation ID."),
    collection: str | None = COLLECTION,
    path: list[str] = opts.PATH,
    media_type: list[str] = opts.TYPE,
    tag: list[str] = opts.TAG,
    after: str | None = opts.AFTER,
    before: str | None = opts.BEFORE,
) -> None:
    """Talk with your documents; follow-ups are understood in context. Empty line or Ctrl-D ends.

    The filters hold for every question of the conversation."""
    filters = opts.make_filters(path, media_type, tag, after, before)
    lib = library(ctx, collection)
    if resume:
        for turn in lib.turns(resume):
            out.print(f"[bold]you>[/bold] {escape(turn.question)}")
            out.print(escape(turn.answer) + "\n")
        conversation_id = resume
    else:
        conversation_id = None
    out.print(
        f"[dim]Chatting with {lib.settings.collection!r}. Empty line or Ctrl-D to stop.[/dim]"
    )
    while True:
        try:
            question = input("you> ") if sys.stdin.isatty() else _read_line()
        except EOFError:
            break
        if not question.strip():
            break
        if conversation_id is None:
            conversation_id = lib.start_conversation(question.strip())
        _chat_turn(lib, question, conversation_id, filters)
    if conversation_id:
        out.print(f"[dim]Saved as {conversation_id}: mnemo chat --resume {conversation_id}[/dim]")


def _read_line() -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    out.print(f"[bold]you>[/bold] {escape(line.strip())}")
    return line


def _chat_turn(lib: Library, question: str, conversation_id: str, filters: Filters | None) -> None:
    from mnemo.errors import MnemoError

    streamed = _Streamer(enabled=True)
    try:
        answer = lib.ask(
            question, conversation_id=conversation_id, filters=filters, on_text=streamed
        )
    except MnemoError as exc:  # one bad turn does not end the conversation
        err.print(f"error: {exc}", markup=False)
        return
    if answer.query != answer.question:
        out.print(f"[dim](searched: {escape(answer.query)})[/dim]")
    show_answer(answer, streamed.text)


class _Streamer:
    """Prints streamed tokens as they come and remembers what was shown."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.text = ""

    def __call__(self, piece: str) -> None:
        self.text += piece
        if self.enabled:
            out.print(piece, end="", markup=False, highlight=False)
            out.file.flush()


def show_answer(answer: Answer, streamed: str = "", via: str | None = None) -> None:
    if streamed:
        out.print()
        if answer.text.strip() != streamed.strip():
            out.print("[bold]Checked answer[/bold] (invalid citations removed):")
            out.print(escape(answer.text))
    else:
        out.print(escape(answer.text))
    if answer.kind == "abstained" and answer.sources:
        out.print("\n[bold]Nearest passages[/bold] (they do not answer it):")
        for source in answer.sources:
            out.print(f" [{source.number}] {escape(_where(source))}")
            out.print(f"     [dim]{escape(_excerpt(source.text))}[/dim]")
    cited = _by_source(answer.citations)
    if cited:
        out.print("\n[bold]Sources[/bold]")
    for number, items in cited.items():
        source = items[0].source
        assert source is not None
        if all(c.verdict == "quoted" for c in items):  # the answer is the quote
            out.print(f" [{number}] {escape(_where(source))}")
            continue
        marks = " ".join(_MARK.get(c.verdict, "[red]✗[/red]") for c in items)
        out.print(f" [{number}] {marks} {escape(_where(source))}")
        quote = items[0].quote or ""
        out.print(f"     [dim]“{escape(_excerpt(quote))}”[/dim]")
        for citation in items:
            if citation.verdict == "unsupported":
                out.print(
                    f"     [red]✗ not supported by this source:[/red] {escape(citation.sentence)}"
                )
    for citation in answer.citations:
        if citation.verdict == "invalid":
            out.print(f" [red]✗ [{citation.number}] cited, but no such source was given[/red]")
    for warning in answer.warnings:
        err.print(f"note: {warning}", markup=False)
    label = {
        "generated": f"generated by {answer.model}; citations checked against their sources",
        "extractive": "extractive: sentences quoted from your documents (no language model used)",
        "abstained": "no answer: the documents do not cover this",
        "unverified": f"UNVERIFIED answer by {answer.model}: do not rely on it without the sources",
    }[answer.kind]
    total = answer.seconds.get("total", 0.0)
    served = f", by the server at {via}" if via else ""
    out.print(f"[dim]{label} ({total:.1f} s{escape(served)})[/dim]")
    if answer.cached_at is not None:
        made = answer.cached_at.astimezone().strftime("%Y-%m-%d %H:%M")
        out.print(f"[dim]cached answer, made {made} (--no-cache to answer afresh)[/dim]")


def _by_source(citations: list[Citation]) -> dict[int, list[Citation]]:
    grouped: dict[int, list[Citation]] = {}
    for citation in citations:
        if citation.source is not None:
            grouped.setdefault(citation.number, []).append(citation)
    return dict(sorted(grouped.items()))


def _where(source: ContextPassage) -> str:
    where = source.path
    start, end = source.page_start, source.page_end
    if start is not None:
        where += f", p. {start}" if start == end or end is None else f", pp. {start}-{end}"
    if source.heading_path:
        # A transcript's span heads its passages: "meeting.m4a @ 12:31–12:58".
        joiner = " " if source.heading_path[0].startswith("@ ") else " › "
        where += joiner + " › ".join(source.heading_path)
    return where


def _excerpt(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _plain(answer: Answer) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(answer)
    for citation in data["citations"]:
        source = citation.pop("source")
        citation["source"] = source["number"] if source else None
    return data


@conversations_app.command("list")
def list_conversations(
    ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON
) -> None:
    """Saved conversations, most recent first: of every collection unless -c names one."""
    lib = library(ctx, collection)
    found = lib.conversations(collection=collection) if collection else lib.all_conversations()
    if as_json:
        print_json(found)
        return
    if not found:
        out.print("No conversations yet: start one with `mnemo chat`.")
    for item in found:
        when = item.updated_at.strftime("%Y-%m-%d %H:%M")
        where = "" if collection else f"{escape(item.collection)}  "
        out.print(f"{item.id}  {when}  {where}{item.turns} turn(s)  {escape(item.title)}")


@conversations_app.command("show")
def show_conversation(ctx: typer.Context, conversation_id: str, as_json: bool = JSON) -> None:
    """Every question and answer of a conversation."""
    turns = library(ctx).turns(conversation_id)
    if as_json:
        print_json(
            [
                {
                    "question": t.question,
                    "query": t.query,
                    "answer": t.answer,
                    "kind": t.kind,
                    "citations": t.citations,
                }
                for t in turns
            ]
        )
        return
    for turn in turns:
        out.print(f"[bold]you>[/bold] {escape(turn.question)}")
        out.print(escape(turn.answer) + "\n")


@conversations_app.command("delete")
def delete_conversation(ctx: typer.Context, conversation_id: str) -> None:
    """Delete a conversation and its turns."""
    library(ctx).delete_conversation(conversation_id)
    out.print(f"Deleted conversation {conversation_id}.")

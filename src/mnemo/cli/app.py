"""The `mnemo` command: global options, sub-commands, and error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mnemo import __version__
from mnemo.cli import (
    ask,
    collections,
    config,
    graph,
    insights,
    ingest,
    interrupts,
    jobs,
    llm,
    mcp,
    research,
    migrate,
    search,
    serve,
    status,
    transfer,
)
from mnemo.cli import cache, evaluate, feedback
from mnemo.cli.context import State
from mnemo.cli.render import err
from mnemo.cli.traces import traces_app
from mnemo.errors import MnemoError

app = typer.Typer(
    name="mnemo",
    help="Index your documents and search them, with citations you can check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"mnemo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Data directory (env MNEMO_HOME; default: the user data dir)."
    ),
    assignments: list[str] = typer.Option(
        [], "--set", help="Override a setting, e.g. --set chunking.max_tokens=256; repeatable."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    no_server: bool = typer.Option(
        False,
        "--no-server",
        help="Run search and ask in this process even when `mnemo serve` is running "
        "for the same data directory (by default they are handed to it: no start-up cost).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = State(home=home, assignments=assignments, debug=debug, no_server=no_server)


app.command()(ingest.add)
app.command()(ingest.sync)
app.command()(ingest.watch)
app.command()(search.search)
app.command()(ask.ask)
app.command()(ask.chat)
app.command()(status.status)
app.command()(search.reindex)
app.command()(serve.serve)
app.command()(mcp.mcp)
app.command()(migrate.migrate)
app.add_typer(collections.collections_app, name="collections")
app.add_typer(ingest.sources_app, name="sources")
app.add_typer(status.docs_app, name="docs")
app.add_typer(config.config_app, name="config")
app.add_typer(llm.llm_app, name="llm")
app.add_typer(ask.conversations_app, name="conversations")
app.add_typer(serve.keys_app, name="keys")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(cache.cache_app, name="cache")
app.add_typer(feedback.feedback_app, name="feedback")
app.add_typer(evaluate.eval_app, name="eval")
app.add_typer(research.memory_app, name="memory")
app.add_typer(traces_app, name="traces")
app.command()(graph.related)
app.add_typer(graph.graph_app, name="graph")
app.command()(insights.digest)
app.command()(insights.topics)
app.add_typer(transfer.export_app, name="export")
app.command("import")(transfer.import_)


# Typer 0.29 carries its own copy of click: its exceptions are not click's. Both are
# caught, so that a usage error is a usage error whichever Typer is installed. An
# older Typer runs on click and has imported it; a newer one never raises click's
# exceptions, and importing click for them would cost a cold command 0.1 s.
_click = getattr(sys.modules.get("click"), "exceptions", None)
_EXIT = tuple({typer.Exit, getattr(_click, "Exit", typer.Exit)})
_ABORT = tuple({typer.Abort, KeyboardInterrupt, getattr(_click, "Abort", typer.Abort)})
_USAGE = tuple(
    {getattr(typer, "TyperException", None), getattr(_click, "ClickException", None)} - {None}
)


def main(argv: list[str] | None = None) -> int:
    """Entry point: domain errors become one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="mnemo", standalone_mode=False)
    except _EXIT as exc:
        return int(exc.exit_code)
    except _USAGE as exc:  # a bad option, a missing argument, an unknown command: exit 2
        if hasattr(exc, "show"):
            exc.show()
        else:
            err.print(f"error: {exc.format_message()}", markup=False)
        return int(exc.exit_code)
    except _ABORT:
        err.print("interrupted")
        return interrupts.INTERRUPTED
    except MnemoError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)",
            markup=False,
        )
        return 1
    # Typer turns Ctrl-C into a silent exit status 130.
    if result == interrupts.INTERRUPTED and not interrupts.told():
        err.print("interrupted")
    return result if isinstance(result, int) else 0


def run() -> None:
    interrupts.install()  # a second Ctrl-C ends the process even while it cleans up
    code = main()
    if interrupts.interrupted():  # cleaned up already: no finalization to wait for
        interrupts.leave(code)
    sys.exit(code)

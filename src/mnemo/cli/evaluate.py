"""`mnemo eval`: evaluate and tune Mnemo on your own documents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import err, out, print_json

if TYPE_CHECKING:
    from mnemo.library import Library

eval_app = typer.Typer(
    help="Evaluate search and answers on your own documents; tune the settings to them.",
    invoke_without_command=True,
)
SET = typer.Option(
    None, "--set", help="The evaluation set (JSON lines); default: <home>/eval/<collection>.jsonl."
)


def _set_path(lib: Library, collection: str | None, given: Path | None) -> Path:
    return given or lib.settings.home / "eval" / f"{collection or lib.settings.collection}.jsonl"


def _progress(label: str) -> object:
    def show(*args: object) -> None:
        if not sys.stderr.isatty():
            return
        *what, done, total = args
        err.print(f"\r{' '.join(map(str, what)) or label} {done}/{total}", end="", markup=False)
        if done == total:
            err.print()

    return show


@eval_app.callback()
def evaluate(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    set_file: Path | None = SET,
    answers: bool = typer.Option(
        True, "--answers/--retrieval-only", help="Also answer each question and score answers."
    ),
    extractive: bool = typer.Option(
        False, "--extractive", help="Answer without the language model, even if one is set."
    ),
    k: int = typer.Option(10, "-k", min=1, max=100, help="Cut-off of the retrieval metrics."),
    report: Path | None = typer.Option(
        None, "--report", help="Write the report here (.md and .html); default: beside the set."
    ),
    as_json: bool = JSON,
) -> None:
    """Score retrieval (recall@k, MRR, nDCG), answers (context recall, faithfulness,
    correctness) and latency on the collection's evaluation set, built first if missing."""
    if ctx.invoked_subcommand is not None:
        return
    from mnemo.eval import cases as eval_cases
    from mnemo.eval import report as reports
    from mnemo.eval.score import evaluate_cases

    lib = library(ctx, collection)
    path = _set_path(lib, collection, set_file)
    if not path.exists() and set_file is None:
        out.print(f"No evaluation set yet: building {escape(str(path))} (edit it freely).")
        _build(lib, collection, path, 50, 0, False if extractive else None)
    found = eval_cases.load(path)
    result = evaluate_cases(
        lib,
        found,
        collection=collection,
        k=k,
        answers=answers,
        use_llm=False if extractive else None,
        on_progress=_progress("evaluating"),  # type: ignore[arg-type]
    )
    markdown = reports.eval_markdown(result)
    # <set>.report.md and .html (mnemo.eval.saved's names; ".report" alone would lose
    # its suffix to ".md", and the tuning report would overwrite this one)
    md, html = reports.write(markdown, report or path.with_suffix(".report.md"), "Mnemo evaluation")
    if as_json:
        print_json({"metrics": result.metrics, "notes": result.notes, "report": str(md)})
        return
    for key, value in result.metrics.items():
        out.print(f"{reports._LABELS.get(key, key):>36}  {reports._cell(value)}")
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    out.print(f"Report: {escape(str(md))} and {escape(str(html))}")


def _build(
    lib: Library, collection: str | None, path: Path, count: int, seed: int, use_llm: bool | None
) -> None:
    from mnemo.eval import cases as eval_cases
    from mnemo.eval.build import build

    made, notes = build(
        lib,
        collection=collection,
        count=count,
        seed=seed,
        use_llm=use_llm,
        on_progress=_progress("writing questions"),  # type: ignore[arg-type]
    )
    if not made:
        from mnemo.eval.cases import EvalSetError

        raise EvalSetError("; ".join(notes) or "no case could be made from the collection")
    eval_cases.save(made, path)
    origins: dict[str, int] = {}
    for case in made:
        origins[case.origin] = origins.get(case.origin, 0) + 1
    listed = ", ".join(f"{n} {origin}" for origin, n in sorted(origins.items()))
    out.print(f"Wrote {len(made)} case(s) ({listed}) to {escape(str(path))}.")
    for note in notes:
        err.print(f"note: {note}", markup=False)


@eval_app.command("build")
def build_set(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write the set."),
    count: int = typer.Option(50, "-n", min=1, max=5000, help="Passages to ask about."),
    seed: int = typer.Option(0, "--seed", help="Another seed samples other passages."),
    extractive: bool = typer.Option(
        False,
        "--keywords",
        help="Keyword questions even when a language model is configured (retrieval only).",
    ),
) -> None:
    """Make questions from sampled passages (by the language model, or keyword questions
    without one), each tied to its passage, plus every answer judged bad."""
    lib = library(ctx, collection)
    _build(
        lib,
        collection,
        _set_path(lib, collection, output),
        count,
        seed,
        False if extractive else None,
    )


@eval_app.command("tune")
def tune(
    ctx: typer.Context,
    collection: str | None = COLLECTION,
    set_file: Path | None = SET,
    save: bool = typer.Option(False, "--save", help="Keep the tuned settings without asking."),
    reset: bool = typer.Option(False, "--reset", help="Forget the settings tuned before."),
    report: Path | None = typer.Option(None, "--report", help="Write the report here."),
    as_json: bool = JSON,
) -> None:
    """Tune fusion weight, candidate depth, chunk neighbours and the abstention threshold
    on half the set, report them on the other half, and offer to keep them for this
    collection."""
    from mnemo.config.tuned import reset_tuned, save_tuned
    from mnemo.eval import cases as eval_cases
    from mnemo.eval import report as reports
    from mnemo.eval.tune import tune as run_tune

    lib = library(ctx, collection)
    name = collection or lib.settings.collection
    if reset:
        gone = reset_tuned(lib.settings, name)
        out.print("Forgot the tuned settings." if gone else "Nothing was tuned for it.")
        return
    path = _set_path(lib, collection, set_file)
    result = run_tune(
        lib,
        eval_cases.load(path),
        collection=name,
        on_progress=_progress("tuning"),  # type: ignore[arg-type]
    )
    markdown = reports.tune_markdown(result)
    md, _ = reports.write(markdown, report or path.with_suffix(".tune.md"), "Mnemo tuning")
    if as_json:
        print_json(
            {
                "current": result.current,
                "tuned": result.chosen,
                "test": result.test,
                "notes": result.notes,
                "report": str(md),
            }
        )
    else:
        out.print(markdown, markup=False, highlight=False)
    changes = result.changes
    if not changes:
        out.print("The current settings are already the best found: nothing to save.")
        return
    keep = save or (
        not as_json
        and sys.stdin.isatty()
        and typer.confirm(f"Keep these settings for collection {name!r}?", default=False)
    )
    if keep:
        note = {"set": str(path), "held_out": result.test.get("tuned", {})}
        where = save_tuned(lib.settings, name, result.chosen, note)
        out.print(f"Saved for collection {name!r} in {escape(str(where))}.")
    elif not as_json:
        out.print("Not saved: run again with --save to keep them.")

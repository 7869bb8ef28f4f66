"""A collection's saved evaluation sets and reports, by name: what the REST routes and
MCP tools of `mnemo eval` build, score, list and read.

Files live in ``<home>/eval/``, named as `mnemo eval` names them, so a set built
from the CLI is listed here and the other way round:

- the set ``default`` of collection ``c`` is ``c.jsonl`` (what `mnemo eval` uses
  when given no ``--set``); a set ``n`` is ``c.n.jsonl`` (``--set`` that path);
- a set's evaluation report is ``<set file without .jsonl>.report.md`` and
  ``.html``; its tuning report (`mnemo eval tune`) ``….tune.md`` and ``.html``.

Names are 1-64 letters, digits, ``-`` and ``_``, so no name reaches outside the
folder. The work runs in the caller's thread; front ends bound how much of it runs
at once (:data:`RUNNING`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mnemo.config import Settings
from mnemo.config.private import private_dir
from mnemo.errors import BusyError
from mnemo.eval import cases as eval_cases
from mnemo.eval.cases import Case, EvalSetError

if TYPE_CHECKING:
    from mnemo.eval.score import EvalResult
    from mnemo.eval.tune import TuneResult
    from mnemo.library import Library

DEFAULT = "default"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ReportKind = Literal["eval", "tune"]
#: One evaluation at a time per process: building and scoring ask the model and
#: search once per case, and two at once would only halve each one's speed.
RUNNING = threading.Lock()


class EvalSetNotFoundError(EvalSetError):
    """No saved set or report by that name."""


class EvalSetExistsError(EvalSetError):
    """A set by that name exists and was not to be replaced."""


@dataclass(frozen=True)
class SavedSet:
    name: str
    collection: str
    cases: int
    origins: dict[str, int]
    modified: datetime
    reports: list[str]  # the kinds of report written for it: eval, tune


@dataclass(frozen=True)
class SavedReport:
    set: str
    collection: str
    kind: str  # eval or tune
    modified: datetime


@dataclass
class BuiltSet:
    name: str
    collection: str
    cases: list[Case]
    notes: list[str] = field(default_factory=list)

    @property
    def origins(self) -> dict[str, int]:
        return _origins(self.cases)


def folder(settings: Settings) -> Path:
    return settings.home / "eval"


def _check(name: str, what: str) -> str:
    if not NAME.match(name):
        raise EvalSetError(f"{what} {name!r} is not a name: use 1-64 letters, digits, '-' and '_'")
    return name


def set_path(settings: Settings, collection: str, name: str = DEFAULT) -> Path:
    """The file of a collection's set ``name``."""
    _check(collection, "collection")
    stem = collection if _check(name, "set") == DEFAULT else f"{collection}.{name}"
    return folder(settings) / f"{stem}.jsonl"


def report_path(settings: Settings, collection: str, name: str, kind: ReportKind) -> Path:
    """The Markdown file of a set's report (the HTML one is beside it)."""
    return set_path(settings, collection, name).with_suffix(
        f".{'report' if kind == 'eval' else 'tune'}.md"
    )


def _origins(cases: list[Case]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.origin] = counts.get(case.origin, 0) + 1
    return dict(sorted(counts.items()))


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _set_names(settings: Settings, collection: str) -> list[str]:
    names = []
    for path in folder(settings).glob(f"{collection}*.jsonl"):
        stem = path.name.removesuffix(".jsonl")
        if stem == collection:
            names.append(DEFAULT)
        elif stem.startswith(collection + ".") and NAME.match(stem[len(collection) + 1 :]):
            names.append(stem[len(collection) + 1 :])
    return sorted(names, key=lambda n: (n != DEFAULT, n))


def list_sets(library: Library, collection: str | None = None) -> list[SavedSet]:
    """The collection's saved sets, ``default`` first; a set that cannot be read is
    listed with 0 cases (reading it names the line at fault)."""
    name = library.collection(collection).name  # CollectionError if there is none
    found = []
    for set_name in _set_names(library.settings, name):
        path = set_path(library.settings, name, set_name)
        try:
            cases = eval_cases.load(path)
        except EvalSetError:
            cases = []
        reports = [
            kind
            for kind in ("eval", "tune")
            if report_path(library.settings, name, set_name, kind).exists()  # type: ignore[arg-type]
        ]
        found.append(
            SavedSet(set_name, name, len(cases), _origins(cases), _modified(path), reports)
        )
    return found


def load_set(library: Library, collection: str | None = None, name: str = DEFAULT) -> list[Case]:
    """The cases of a saved set; EvalSetNotFoundError when there is none by that name."""
    coll = library.collection(collection).name
    path = set_path(library.settings, coll, name)
    if not path.exists():
        raise EvalSetNotFoundError(
            f"collection {coll!r} has no evaluation set {name!r}: build one first"
        )
    return eval_cases.load(path)


@contextmanager
def _exclusive() -> Iterator[None]:
    if not RUNNING.acquire(blocking=False):
        raise BusyError("an evaluation is already running here; try again when it ends")
    try:
        yield
    finally:
        RUNNING.release()


def build_set(
    library: Library,
    collection: str | None = None,
    name: str = DEFAULT,
    *,
    count: int = 50,
    seed: int = 0,
    use_llm: bool | None = None,
    replace: bool = False,
) -> BuiltSet:
    """Build and save a set (:func:`mnemo.eval.build.build`); EvalSetExistsError when
    one by that name exists and ``replace`` is false (it may hold the user's edits)."""
    from mnemo.eval.build import build

    coll = library.collection(collection).name
    path = set_path(library.settings, coll, name)
    if path.exists() and not replace:
        raise EvalSetExistsError(
            f"collection {coll!r} already has an evaluation set {name!r}: "
            "replace it explicitly, or choose another name"
        )
    with _exclusive():
        made, notes = build(library, collection=coll, count=count, seed=seed, use_llm=use_llm)
    if not made:
        raise EvalSetError("; ".join(notes) or f"no case could be made from collection {coll!r}")
    private_dir(folder(library.settings))
    eval_cases.save(made, path)
    return BuiltSet(name, coll, made, notes)


def score_set(
    library: Library,
    collection: str | None = None,
    name: str = DEFAULT,
    *,
    k: int = 10,
    answers: bool = True,
    use_llm: bool | None = None,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Score a saved set (:func:`mnemo.eval.score.evaluate_cases`), at most ``limit``
    cases of it, and write its report beside it."""
    from mnemo.eval import report as reports
    from mnemo.eval.score import evaluate_cases

    coll = library.collection(collection).name
    cases = load_set(library, coll, name)
    cut = limit is not None and len(cases) > limit
    with _exclusive():
        result = evaluate_cases(
            library,
            cases[:limit] if cut else cases,
            collection=coll,
            k=k,
            answers=answers,
            use_llm=use_llm,
            on_progress=on_progress,
        )
    if cut:
        result.notes.append(f"scored the first {limit} of the set's {len(cases)} cases")
    md = report_path(library.settings, coll, name, "eval")  # write keeps the name, .md/.html
    reports.write(reports.eval_markdown(result), md, "Mnemo evaluation")
    return result


def tune_set(
    library: Library,
    collection: str | None = None,
    name: str = DEFAULT,
    *,
    save: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[TuneResult, Path | None]:
    """Tune search and answer settings on one half of a saved set and report them on the
    other (:func:`mnemo.eval.tune.tune`); the tuning report is written beside the set.
    With ``save``, the tuned settings are kept for the collection when they differ from
    the current ones; returns the result and where they were kept (None: not kept)."""
    from mnemo.config.tuned import save_tuned
    from mnemo.eval import report as reports
    from mnemo.eval.tune import tune

    coll = library.collection(collection).name
    cases = load_set(library, coll, name)
    with _exclusive():
        result = tune(library, cases, collection=coll, on_progress=on_progress)
    md = report_path(library.settings, coll, name, "tune")
    reports.write(reports.tune_markdown(result), md, "Mnemo tuning")
    if not (save and result.changes):
        return result, None
    note = {
        "set": str(set_path(library.settings, coll, name)),
        "held_out": result.test.get("tuned", {}),
    }
    return result, save_tuned(library.settings, coll, result.chosen, note)


def list_reports(library: Library, collection: str | None = None) -> list[SavedReport]:
    """The reports written for the collection's sets, newest first."""
    coll = library.collection(collection).name
    found = []
    for set_name in _set_names(library.settings, coll):
        for kind in ("eval", "tune"):
            path = report_path(library.settings, coll, set_name, kind)  # type: ignore[arg-type]
            if path.exists():
                found.append(SavedReport(set_name, coll, kind, _modified(path)))
    return sorted(found, key=lambda r: r.modified, reverse=True)


def read_report(
    library: Library,
    collection: str | None = None,
    name: str = DEFAULT,
    *,
    kind: ReportKind = "eval",
    html: bool = False,
) -> str:
    """A set's report, as Markdown or as HTML."""
    coll = library.collection(collection).name
    path = report_path(library.settings, coll, name, kind)
    if html:
        path = path.with_suffix(".html")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        run = "score the set" if kind == "eval" else "run `mnemo eval tune` on it"
        raise EvalSetNotFoundError(
            f"collection {coll!r} has no {kind} report of set {name!r}: {run} first"
        ) from None

"""`mnemo eval tune`: fit the search settings to a collection, checked on held-out cases.

The cases are split in two halves by a hash of their ids
(:func:`mnemo.eval.cases.split`): every choice is made on the *tuning* half and
reported on the *test* half, which plays no part in it.

- **Fusion weight and candidate depth**: each question's keyword and dense
  rankings are fetched once, as deep as the deepest candidate depth, and fused
  again for every point of the grid (the same convex fusion a search runs); the
  point with the best nDCG@10 wins, and among points within 0.002 of it the one
  nearest the current settings (no change for noise).
- **Chunk neighbours**: the passages an answer would read are assembled with 0
  to 3 neighbours within the answer's token budget; the number whose context
  holds most of the case (its reference answer's words, or else its passage)
  wins, ties going to the current value.
- **Abstention threshold** (``answer.min_rerank_score`` when answers rerank,
  else ``answer.min_relevance``): every tuning case is answerable, so the
  threshold is only ever lowered, to just under the best-passage score of the
  tuning half's 5th percentile, so that no more than 1 answerable question in
  20 is refused. It is never raised: that needs unanswerable questions.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mnemo.config.tuned import apply
from mnemo.eval.cases import Case, split
from mnemo.eval.score import retrieval_metrics
from mnemo.index.base import Hit
from mnemo.library import Library
from mnemo.retrieval import fusion

WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
DEPTHS = [25, 50, 100, 200]
NEIGHBOURS = [0, 1, 2, 3]
METRIC = "ndcg@10"
_TOLERANCE = 0.002
_WORD = re.compile(r"\w+")

Progress = Callable[[str, int, int], None]


@dataclass
class Pool:
    """One question's keyword and dense rankings, as deep as the grid needs."""

    keyword: list[Hit]
    dense: list[Hit]
    paths: dict[str, str]  # chunk id -> document path

    def fused(self, weight: float, depth: int) -> list[str]:
        keyword, dense = self.keyword[:depth], self.dense[:depth]
        if keyword and dense:
            return [h.chunk_id for h in fusion.convex(keyword, dense, weight)]
        return [h.chunk_id for h in keyword or dense]


@dataclass
class TuneResult:
    collection: str
    current: dict[str, Any]
    chosen: dict[str, Any]
    tuning: dict[str, dict[str, float]] = field(default_factory=dict)  # setting -> metrics
    test: dict[str, dict[str, float]] = field(default_factory=dict)
    grid: list[tuple[float, int, float]] = field(default_factory=list)
    sizes: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.chosen.items() if self.current.get(k) != v}


def fetch_pools(
    library: Library,
    questions: dict[str, str],
    *,
    collection: str,
    depth: int = max(DEPTHS),
    on_progress: Progress | None = None,
) -> dict[str, Pool]:
    """Each question's keyword and dense rankings ``depth`` deep, fetched once."""
    from mnemo.retrieval.search import search

    settings = apply(library.settings_for(collection), {"search.candidates": depth})
    pools = {}
    for done, (qid, text) in enumerate(questions.items(), start=1):
        ranked = {}
        paths: dict[str, str] = {}
        for mode, score in (("bm25", "bm25"), ("dense", "dense")):
            response = search(
                text, settings, library.catalog, collection=collection, k=depth, mode=mode
            )
            hits = [h for h in response.hits if score in h.scores]
            ranked[mode] = [Hit(h.chunk_id, h.scores[score]) for h in hits]
            paths.update((h.chunk_id, h.path) for h in hits)
        pools[qid] = Pool(ranked["bm25"], ranked["dense"], paths)
        if on_progress is not None:
            on_progress("searching", done, len(questions))
    return pools


def rankings(
    pools: dict[str, Pool],
    ranked: Callable[[Pool], list[str]],
    unit: Callable[[Pool, str], str] | None = None,
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """A ranx run: each question's first ``k`` units (chunks, or what ``unit`` maps a
    chunk to, the best chunk standing for its unit)."""
    run: dict[str, dict[str, float]] = {}
    for qid, pool in pools.items():
        found: dict[str, float] = {}
        for chunk_id in ranked(pool):
            name = unit(pool, chunk_id) if unit is not None else chunk_id
            if name not in found:
                found[name] = float(1000 - len(found))
            if len(found) == k:
                break
        run[qid] = found
    return run


def search_grid(
    pools: dict[str, Pool],
    qrels: dict[str, dict[str, int]],
    unit: Callable[[Pool, str], str] | None = None,
    weights: Iterable[float] = WEIGHTS,
    depths: Iterable[int] = DEPTHS,
) -> list[tuple[float, int, float]]:
    """nDCG@10 of every (dense weight, candidate depth) pair."""
    rows = []
    for depth in depths:
        for weight in weights:
            run = rankings(pools, lambda p, w=weight, d=depth: p.fused(w, d), unit)
            rows.append((weight, depth, retrieval_metrics(qrels, run, 10)[METRIC]))
    return rows


def best_point(
    rows: list[tuple[float, int, float]], current: tuple[float, int]
) -> tuple[float, int, float]:
    """The best grid point; among those within the tolerance, the one nearest ``current``."""
    top = max(score for _, _, score in rows)
    near = [r for r in rows if r[2] >= top - _TOLERANCE]
    weight, depth = current
    return min(near, key=lambda r: (abs(r[0] - weight), abs(r[1] - depth), -r[2]))


def compare(
    pools: dict[str, Pool],
    qrels: dict[str, dict[str, int]],
    points: dict[str, tuple[float, int]],
    unit: Callable[[Pool, str], str] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of named settings, with keyword-only and dense-only for reference."""
    found = {}
    for name, (weight, depth) in points.items():
        run = rankings(pools, lambda p, w=weight, d=depth: p.fused(w, d), unit)
        found[name] = retrieval_metrics(qrels, run, 10)
    found["bm25 only"] = retrieval_metrics(
        qrels, rankings(pools, lambda p: [h.chunk_id for h in p.keyword], unit), 10
    )
    found["dense only"] = retrieval_metrics(
        qrels, rankings(pools, lambda p: [h.chunk_id for h in p.dense], unit), 10
    )
    return found


def tune(
    library: Library,
    cases: list[Case],
    *,
    collection: str | None = None,
    on_progress: Progress | None = None,
) -> TuneResult:
    """Tune on one half of ``cases``, report on the other (see the module docstring)."""
    name = collection or library.settings.collection
    settings = library.settings_for(name)
    usable = [c for c in cases if c.chunk_ids]
    first, second = split(usable)
    current = {
        "search.dense_weight": settings.search.dense_weight,
        "search.candidates": settings.search.candidates,
        "answer.neighbours": settings.answer.neighbours,
        _threshold_key(settings): _threshold(settings),
    }
    result = TuneResult(name, current, dict(current), sizes=(len(first), len(second)))
    if len(first) < 5 or len(second) < 5:
        result.notes.append(
            f"only {len(usable)} case(s) tied to passages: at least 10 are needed to tune; "
            "build a larger set (`mnemo eval build -n 100`)"
        )
        return result
    qrels = {c.id: {r: 1 for r in c.chunk_ids} for c in usable}
    pools = fetch_pools(
        library, {c.id: c.question for c in usable}, collection=name, on_progress=on_progress
    )
    tune_pools = {c.id: pools[c.id] for c in first}
    test_pools = {c.id: pools[c.id] for c in second}
    tune_qrels = {c.id: qrels[c.id] for c in first}
    test_qrels = {c.id: qrels[c.id] for c in second}
    now = (settings.search.dense_weight, settings.search.candidates)
    result.grid = search_grid(tune_pools, tune_qrels)
    weight, depth, _ = best_point(result.grid, now)
    result.chosen["search.dense_weight"] = weight
    result.chosen["search.candidates"] = depth
    points = {"current": now, "tuned": (weight, depth)}
    result.tuning = compare(tune_pools, tune_qrels, points)
    result.test = compare(test_pools, test_qrels, points)
    tuned = apply(settings, {"search.dense_weight": weight, "search.candidates": depth})
    _tune_neighbours(library, tuned, name, first, second, result, on_progress)
    _tune_threshold(library, tuned, name, first, second, result, on_progress)
    return result


def _budget(library: Library, settings: Any) -> int:
    if settings.answer.context_tokens is not None:
        return int(settings.answer.context_tokens)
    if library.llm() is None:
        return 2000
    return max(256, settings.llm.context_window - settings.llm.max_answer_tokens - 400)


def _context_recall(
    library: Library, settings: Any, name: str, case: Case, hits: Any, n: int
) -> float:
    from mnemo.retrieval.context import assemble_context

    passages = assemble_context(
        library.catalog, hits, max_tokens=_budget(library, settings), neighbours=n, collection=name
    )
    if case.reference:
        wanted = {w.casefold() for w in _WORD.findall(case.reference)}
        have = {w.casefold() for p in passages for w in _WORD.findall(p.text)}
        return len(wanted & have) / len(wanted) if wanted else 0.0
    read = {c for p in passages for c in p.chunk_ids}
    return 1.0 if read & set(case.chunk_ids) else 0.0


def _tune_neighbours(
    library: Library,
    settings: Any,
    name: str,
    first: list[Case],
    second: list[Case],
    result: TuneResult,
    on_progress: Progress | None,
) -> None:
    from mnemo.retrieval.search import search

    scores: dict[str, dict[int, float]] = {"tuning": {}, "test": {}}
    total = len(first) + len(second)
    done = 0
    for half, group in (("tuning", first), ("test", second)):
        sums = dict.fromkeys(NEIGHBOURS, 0.0)
        for case in group:
            hits = search(
                case.question,
                settings,
                library.catalog,
                collection=name,
                k=settings.answer.passages,
                rerank=settings.answer.rerank,
            ).hits
            for n in NEIGHBOURS:
                sums[n] += _context_recall(library, settings, name, case, hits, n)
            done += 1
            if on_progress is not None:
                on_progress("assembling", done, total)
        scores[half] = {n: round(sums[n] / len(group), 4) for n in NEIGHBOURS}
    current = result.current["answer.neighbours"]
    top = max(scores["tuning"].values())
    near = [n for n in NEIGHBOURS if scores["tuning"][n] >= top - _TOLERANCE]
    chosen = current if current in near else min(near)
    result.chosen["answer.neighbours"] = chosen
    for half in ("tuning", "test"):
        table = result.tuning if half == "tuning" else result.test
        table["context recall by neighbours"] = {str(n): v for n, v in scores[half].items()}


def _threshold_key(settings: Any) -> str:
    return "answer.min_rerank_score" if settings.answer.rerank else "answer.min_relevance"


def _threshold(settings: Any) -> float:
    return float(
        settings.answer.min_rerank_score
        if settings.answer.rerank
        else settings.answer.min_relevance
    )


def _tune_threshold(
    library: Library,
    settings: Any,
    name: str,
    first: list[Case],
    second: list[Case],
    result: TuneResult,
    on_progress: Progress | None,
) -> None:
    from mnemo.retrieval.search import search

    key, current = _threshold_key(settings), _threshold(settings)
    score = "rerank" if settings.answer.rerank else "dense"
    best: dict[str, list[float]] = {"tuning": [], "test": []}
    for half, group in (("tuning", first), ("test", second)):
        for done, case in enumerate(group, start=1):
            hits = search(
                case.question,
                settings,
                library.catalog,
                collection=name,
                k=settings.answer.passages,
                rerank=settings.answer.rerank,
            ).hits
            found = [h.scores[score] for h in hits if score in h.scores]
            if found:
                best[half].append(max(found))
            if on_progress is not None:
                on_progress(f"scoring ({half})", done, len(group))
    if len(best["tuning"]) < 5:
        result.notes.append(f"abstention threshold not tuned: no {score} scores to tune on")
        return
    ordered = sorted(best["tuning"])
    fifth = ordered[int(0.05 * (len(ordered) - 1))]
    chosen = round(min(current, fifth - 0.01), 2)
    result.chosen[key] = chosen
    for half in ("tuning", "test"):
        table = result.tuning if half == "tuning" else result.test
        values = best[half]
        table["abstained (answerable questions)"] = {
            "current": round(sum(v < current for v in values) / len(values), 4) if values else 0,
            "tuned": round(sum(v < chosen for v in values) / len(values), 4) if values else 0,
        }
    if values := best["tuning"]:
        result.notes.append(
            f"best-passage {score} score on the tuning half: median "
            f"{statistics.median(values):.2f}, 5th percentile {fifth:.2f}"
        )

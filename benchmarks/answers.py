"""Grounded answering on rgb-en-fact, through Mnemo itself: recall, abstention, calibration.

Each of rgb-en-fact's 100 questions comes with passages that contain its answer
(``positive``), related passages that do not (``negative``), and the positive
passages with the answer swapped for a false one (``positive_wrong``). Every
distinct passage becomes a ``.txt`` file in a scratch folder; ``mnemo.add``
indexes and embeds them with the default settings, in two collections, each in
its own home under ``bench-out/answers/``:

- *full*: every positive and negative passage. Each question goes through
  ``mnemo.ask(use_llm=False)`` (extractive, offline). Context recall: the
  reference answer (any accepted form, case-insensitive substring) is in the
  search hits (``mnemo.search``, ``k = answer.passages``: before the abstention
  decision) or in ``answer.sources`` (after it). Extractive accuracy: it is in
  the answer text. Also false abstentions and ``ask`` latency (after a warm-up).
- *negatives*: only the negative passages. Every question should abstain; the
  share that does, and the share whose answer text has the answer anyway.

Calibration (choices made on one half of the questions, by id parity, and
scored on the other, both ways, so the figures are not in-sample):

- ``answer.min_relevance``: the best dense cosine among a question's search
  hits, on *full* (answerable) and on *negatives* (unanswerable); the threshold
  with the best balanced accuracy (answered on full, abstained on negatives).
- The support score behind citation verdicts (``support.LEXICAL_WEIGHT`` and
  ``answer.min_support``): claims "question answer." against a positive passage
  that has the answer (supported), against the same passage with the answer
  swapped (counterfactual: unsupported) and against the question's negatives
  (unsupported); the weight and threshold with the best F1 of "supported",
  with lexical-only and semantic-only baselines.

With ``MNEMO_BENCH_LLM_BASE_URL`` and ``MNEMO_BENCH_LLM_MODEL`` set (optional
``MNEMO_BENCH_LLM_API_KEY``, ``MNEMO_BENCH_LLM_PROVIDER``, default
openai-compatible), each question is also answered by that model on *full*:
generated-answer accuracy and citation precision. Without them that part is
skipped and says so.

    python benchmarks/answers.py --json out.json
    python benchmarks/answers.py --fresh --set answer.passages=5

The data is read from ../shared/bench/data/rgb-en-fact at run time; a Markdown
summary goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import mnemo

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "data" / "rgb-en-fact" / "en_fact.jsonl"
THRESHOLDS = [round(0.01 * i, 2) for i in range(101)]
WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
CURVE = [0.3, 0.5, 0.55, 0.6, 0.65, 0.68, 0.7, 0.75, 0.8]  # thresholds shown in the summary
CURRENT_WEIGHT = 0.6  # support.LEXICAL_WEIGHT before this benchmark calibrated it


@dataclass(frozen=True)
class Question:
    id: int
    query: str
    answers: list[str]  # every accepted form
    positive: list[str]
    negative: list[str]
    positive_wrong: list[str]


@dataclass(frozen=True)
class Pair:
    """A claim and a passage, and whether the passage supports the claim."""

    question: int
    kind: str  # supported, counterfactual, negative
    claim: str
    passage: str

    @property
    def supported(self) -> bool:
        return self.kind == "supported"


@dataclass(frozen=True)
class Rates:
    precision: float
    recall: float
    f1: float


def flatten(answer: Any) -> list[str]:
    """Accepted forms: the answer is a string, or a (nested) list of them."""
    if isinstance(answer, str):
        return [answer]
    return [form for item in answer for form in flatten(item)]


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.open():
        row = json.loads(line)
        questions.append(
            Question(
                int(row["id"]),
                row["query"],
                flatten(row["answer"]),
                row["positive"],
                row["negative"],
                row["positive_wrong"],
            )
        )
    return questions


def found(answers: Sequence[str], text: str) -> str | None:
    """The first accepted form in ``text`` (case-insensitive), or None."""
    lowered = text.lower()
    return next((a for a in answers if a.lower() in lowered), None)


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else 0.0


def write_docs(texts: Sequence[str], folder: Path) -> None:
    """One file per passage, rewritten only when changed; stale files removed."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for n, text in enumerate(texts):
        path = folder / f"p{n:05d}.txt"
        body = text + "\n"
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
        wanted.add(path.name)
    for path in folder.glob("*.txt"):
        if path.name not in wanted:
            path.unlink()


def build(
    name: str, texts: Sequence[str], work: Path, overrides: dict[str, Any], fresh: bool
) -> tuple[mnemo.Settings, dict[str, Any]]:
    """Index ``texts`` in their own home; the settings for it and what the run did."""
    home = work / name / "home"
    if fresh and home.exists():
        shutil.rmtree(home)
    docs = work / name / "docs"
    write_docs(texts, docs)
    settings = mnemo.load_settings(home, overrides)
    started = time.perf_counter()
    report = mnemo.add([docs], settings)
    seconds = time.perf_counter() - started
    if report.embedding.error:
        raise SystemExit(f"{name}: embedding failed: {report.embedding.error}")
    info = {
        "passages": len(texts),
        "indexed": report.counts["indexed"],
        "embedded": report.embedding.embedded,
        "add_seconds": round(seconds, 1),
    }
    print(f"{name}: {info}", file=sys.stderr)
    return settings, info


class MemoReranker:
    """The configured cross-encoder, remembering its scores for each (question,
    candidates) call. ``ask`` and the searches after it read the same candidates for
    the same question, so each collection's passages are scored once per question;
    scores are the same as the model's (INT8 batches depend only on the candidates)."""

    scores: ClassVar[dict[tuple[str, tuple[str, ...]], list[float]]] = {}

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        key = (query, tuple(passages))
        if key not in self.scores:
            self.scores[key] = [float(s) for s in self.inner.score(query, passages)]
        return self.scores[key]


def memo_reranker(name: str) -> str:
    """Register a remembering wrapper around reranker ``name``; the name to use."""
    from mnemo.registry import RERANKERS
    from mnemo.retrieval.rerank import register

    inner = RERANKERS.get(name)
    memo = f"bench-memo-{name}"

    def factory(settings: mnemo.Settings) -> MemoReranker | None:
        reranker = inner(settings)
        return None if reranker is None else MemoReranker(reranker)

    register(memo, factory)
    return memo


def max_dense(hits: Sequence[Any]) -> float | None:
    dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
    return max(dense) if dense else None


def ask_all(
    settings: mnemo.Settings, questions: Sequence[Question], *, use_llm: bool
) -> list[dict[str, Any]]:
    """Every question through ``mnemo.ask``, after one warm-up; one record a question."""
    from mnemo.library import Library

    records = []
    with Library(settings) as library:
        # loads the models, opens the tables; the answer cache is off: every answer is made
        library.ask(questions[0].query, use_llm=use_llm, cache=False)
        answers = []
        for q in questions:
            started = time.perf_counter()
            answer = library.ask(q.query, use_llm=use_llm, cache=False)
            answers.append((answer, (time.perf_counter() - started) * 1000))
    for q, (answer, ms) in zip(questions, answers, strict=True):
        sources = "\n".join(s.text for s in answer.sources)
        valid = [c for c in answer.citations if c.source is not None]
        records.append(
            {
                "id": q.id,
                "kind": answer.kind,
                "ms": round(ms, 1),
                "in_sources": found(q.answers, sources) is not None,
                "in_text": found(q.answers, answer.text) is not None,
                "citations": len(valid),
                "supported": sum(c.verdict == "supported" for c in valid),
                "warnings": answer.warnings,
            }
        )
    return records


def search_all(settings: mnemo.Settings, questions: Sequence[Question]) -> list[dict[str, Any]]:
    """The hits ``ask`` starts from (reranked when ``answer.rerank`` is on): best dense
    cosine, best reranker score, and whether they hold the answer."""
    from mnemo.library import Library

    records = []
    with Library(settings) as library:
        responses = [
            library.search(q.query, k=settings.answer.passages, rerank=settings.answer.rerank)
            for q in questions
        ]
    for q, response in zip(questions, responses, strict=True):
        text = "\n".join(h.text for h in response.hits)
        reranked = [h.scores["rerank"] for h in response.hits if "rerank" in h.scores]
        records.append(
            {
                "id": q.id,
                "max_dense": max_dense(response.hits),
                "max_rerank": max(reranked) if reranked else None,
                "in_hits": found(q.answers, text) is not None,
            }
        )
    return records


def summarise_asks(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["ms"] for r in records]
    return {
        "questions": len(records),
        "abstained": share(r["kind"] == "abstained" for r in records),
        "in_sources": share(r["in_sources"] for r in records),
        "in_sources_answered": share(r["in_sources"] and r["kind"] != "abstained" for r in records),
        "in_text": share(r["in_text"] for r in records),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
    }


def distribution(values: Sequence[float]) -> dict[str, float]:
    return {f"p{p}": round(percentile(values, p), 4) for p in (10, 50, 90)}


# --- answer.min_relevance ---------------------------------------------------------------


#: Thresholds for the reranker's score (a logit: about -11 to 11 for ms-marco MiniLM).
LOGITS = [round(-12 + 0.25 * i, 2) for i in range(97)]


def balanced_accuracy(
    answerable: Sequence[float | None], unanswerable: Sequence[float | None], threshold: float
) -> float:
    """Mean of the answered share (answerable) and the abstained share (unanswerable).

    ``ask`` abstains when the best dense cosine is under the threshold; a question
    whose hits have no dense score is answered.
    """

    def answered(score: float | None) -> bool:
        return score is None or score >= threshold

    hit = sum(answered(s) for s in answerable) / len(answerable)
    rejected = sum(not answered(s) for s in unanswerable) / len(unanswerable)
    return (hit + rejected) / 2


def best_options(options: Sequence[float], value: Callable[[float], float]) -> list[float]:
    """The options that share the best value, in order."""
    scored = [(value(o), o) for o in options]
    best = max(v for v, _ in scored)
    return [o for v, o in scored if abs(v - best) < 1e-12]


def middle_best(options: Sequence[float], value: Callable[[float], float]) -> float:
    """The option with the best value; among ties, the middle one (the most margin)."""
    tied = best_options(options, value)
    return tied[len(tied) // 2]


def calibrate_relevance(
    full: dict[int, float | None],
    negatives: dict[int, float | None],
    current: float,
    thresholds: Sequence[float] = THRESHOLDS,
) -> dict[str, Any]:
    def split(ids: set[int]) -> tuple[list[float | None], list[float | None]]:
        return [full[i] for i in ids], [negatives[i] for i in ids]

    def choose(ids: set[int]) -> float:
        answerable, unanswerable = split(ids)
        return middle_best(thresholds, lambda t: balanced_accuracy(answerable, unanswerable, t))

    ids = set(full)
    halves = {"even": {i for i in ids if i % 2 == 0}, "odd": {i for i in ids if i % 2 == 1}}
    folds = []
    for chosen_on, tested_on in (("odd", "even"), ("even", "odd")):
        threshold = choose(halves[chosen_on])
        answerable, unanswerable = split(halves[tested_on])
        folds.append(
            {
                "chosen_on": chosen_on,
                "threshold": threshold,
                "tested_on": tested_on,
                "balanced_accuracy": round(
                    balanced_accuracy(answerable, unanswerable, threshold), 4
                ),
                "answered_full": share(s is None or s >= threshold for s in answerable),
                "abstained_negatives": share(s is not None and s < threshold for s in unanswerable),
            }
        )
    chosen = choose(ids)
    answerable, unanswerable = split(ids)
    # Mnemo's default: the lowest of the best thresholds. A false abstention hides
    # documents that are there; a false answer is still checked and labelled.
    lowest = best_options(thresholds, lambda t: balanced_accuracy(answerable, unanswerable, t))[0]
    scored_full = [s for s in answerable if s is not None]
    scored_neg = [s for s in unanswerable if s is not None]
    return {
        "folds": folds,
        "cross_validated_balanced_accuracy": round(
            statistics.mean(f["balanced_accuracy"] for f in folds), 4
        ),
        "chosen_on_all": chosen,
        "lowest_best_on_all": lowest,
        "balanced_accuracy_all_in_sample": round(
            balanced_accuracy(answerable, unanswerable, chosen), 4
        ),
        "current": current,
        "balanced_accuracy_current": round(balanced_accuracy(answerable, unanswerable, current), 4),
        "curve": {
            str(t): {
                "balanced_accuracy": round(balanced_accuracy(answerable, unanswerable, t), 4),
                "answered_full": share(s is None or s >= t for s in answerable),
                "abstained_negatives": share(s is not None and s < t for s in unanswerable),
            }
            for t in sorted({*CURVE, current, chosen})
        },
        "full_max_dense": distribution(scored_full),
        "negatives_max_dense": distribution(scored_neg),
        "no_dense_score": {
            "full": sum(s is None for s in answerable),
            "negatives": sum(s is None for s in unanswerable),
        },
    }


# --- support score ------------------------------------------------------------------------


def support_pairs(questions: Sequence[Question]) -> list[Pair]:
    """Claim "question answer." against the passages of its own question.

    The claim quotes the answer as the positive passage writes it (a model copies
    its source). A counterfactual passage that still holds an accepted form is
    left out: it does not contradict the claim.
    """
    pairs = []
    for q in questions:
        primary = None
        for positive, wrong in zip(q.positive, q.positive_wrong, strict=True):
            form = found(q.answers, positive)
            if form is None:
                continue
            primary = primary or form
            claim = f"{q.query} {form}."
            pairs.append(Pair(q.id, "supported", claim, positive))
            if found(q.answers, wrong) is None:
                pairs.append(Pair(q.id, "counterfactual", claim, wrong))
        claim = f"{q.query} {primary or q.answers[0]}."
        pairs += [Pair(q.id, "negative", claim, n) for n in q.negative if not found(q.answers, n)]
    return pairs


def rates(labels: Sequence[bool], predicted: Sequence[bool]) -> Rates:
    tp = sum(y and p for y, p in zip(labels, predicted, strict=True))
    fp = sum(p and not y for y, p in zip(labels, predicted, strict=True))
    fn = sum(y and not p for y, p in zip(labels, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Rates(round(precision, 4), round(recall, 4), round(f1, 4))


def calibrate_support(
    pairs: Sequence[Pair],
    lexical: Sequence[float],
    semantic: Sequence[float],
    weights: Sequence[float],
    current: tuple[float, float],
) -> dict[str, Any]:
    """Weight and threshold with the best F1 of "supported", cross-validated by id parity."""

    def scores(weight: float, rows: Sequence[int]) -> list[float]:
        return [weight * lexical[i] + (1 - weight) * semantic[i] for i in rows]

    def f1(weight: float, threshold: float, rows: Sequence[int]) -> float:
        predicted = [s >= threshold for s in scores(weight, rows)]
        return rates([pairs[i].supported for i in rows], predicted).f1

    def choose(rows: Sequence[int]) -> tuple[float, float]:
        best = {w: middle_best(THRESHOLDS, lambda t, w=w: f1(w, t, rows)) for w in weights}
        # ties between weights go to the one nearer an even mix
        weight = max(weights, key=lambda w: (f1(w, best[w], rows), -abs(w - 0.5)))
        return weight, best[weight]

    def evaluate(weight: float, threshold: float, rows: Sequence[int]) -> dict[str, Any]:
        predicted = [s >= threshold for s in scores(weight, rows)]
        result = rates([pairs[i].supported for i in rows], predicted)
        rejected = {
            kind: share(
                not p for i, p in zip(rows, predicted, strict=True) if pairs[i].kind == kind
            )
            for kind in ("counterfactual", "negative")
        }
        return {**result.__dict__, "rejected": rejected}

    rows = list(range(len(pairs)))
    halves = {
        "even": [i for i in rows if pairs[i].question % 2 == 0],
        "odd": [i for i in rows if pairs[i].question % 2 == 1],
    }
    folds = []
    held_out: dict[int, bool] = {}
    for chosen_on, tested_on in (("odd", "even"), ("even", "odd")):
        weight, threshold = choose(halves[chosen_on])
        tested = halves[tested_on]
        folds.append(
            {
                "chosen_on": chosen_on,
                "weight": weight,
                "threshold": threshold,
                "tested_on": tested_on,
                **evaluate(weight, threshold, tested),
            }
        )
        held_out.update(zip(tested, (s >= threshold for s in scores(weight, tested)), strict=True))
    pooled = rates([pairs[i].supported for i in rows], [held_out[i] for i in rows])
    weight, threshold = choose(rows)
    return {
        "folds": folds,
        "cross_validated": pooled.__dict__,
        "chosen_on_all": {"weight": weight, "threshold": threshold},
        "all_in_sample": evaluate(weight, threshold, rows),
        "current": {"weight": current[0], "threshold": current[1], **evaluate(*current, rows)},
    }


def bench_support(
    settings: mnemo.Settings, questions: Sequence[Question], current_threshold: float
) -> dict[str, Any]:
    from mnemo.catalog import Catalog
    from mnemo.embeddings.resolve import active_embedder
    from mnemo.generation.support import support
    from mnemo.catalog.collections import get_collection

    catalog = Catalog(settings.catalog_path)
    with catalog.session(readonly=True) as session:
        collection_id = get_collection(session, settings.collection).id
    embedder = active_embedder(settings, catalog, collection_id)
    if embedder is None:
        raise SystemExit("the full collection has no embedder: cannot score semantic support")
    pairs = support_pairs(questions)
    started = time.perf_counter()
    found_support = support([p.claim for p in pairs], [p.passage for p in pairs], embedder)
    seconds = time.perf_counter() - started
    lexical = [s.lexical for s in found_support]
    semantic = [s.semantic or 0.0 for s in found_support]
    counts = {
        k: sum(p.kind == k for p in pairs) for k in ("supported", "counterfactual", "negative")
    }
    print(f"support: {len(pairs)} pairs {counts} scored in {seconds:.1f} s", file=sys.stderr)
    current = (CURRENT_WEIGHT, current_threshold)
    result = {
        "pairs": counts,
        "score_seconds": round(seconds, 1),
        "combined": calibrate_support(pairs, lexical, semantic, WEIGHTS, current),
        "lexical_only": calibrate_support(pairs, lexical, semantic, [1.0], (1.0, current[1])),
        "semantic_only": calibrate_support(pairs, lexical, semantic, [0.0], (0.0, current[1])),
        "medians": {
            kind: {
                "lexical": round(statistics.median(lexical[i] for i in idx), 4),
                "semantic": round(statistics.median(semantic[i] for i in idx), 4),
            }
            for kind in counts
            if (idx := [i for i, p in enumerate(pairs) if p.kind == kind])
        },
    }
    return result


# --- with a language model ----------------------------------------------------------------


def llm_overrides() -> dict[str, Any] | None:
    base_url = os.environ.get("MNEMO_BENCH_LLM_BASE_URL")
    if not base_url:
        return None
    llm: dict[str, Any] = {
        "provider": os.environ.get("MNEMO_BENCH_LLM_PROVIDER", "openai-compatible"),
        "base_url": base_url,
    }
    if model := os.environ.get("MNEMO_BENCH_LLM_MODEL"):
        llm["model"] = model
    if key := os.environ.get("MNEMO_BENCH_LLM_API_KEY"):
        llm["api_key"] = key
    return llm


def bench_llm(
    home: Path, overrides: dict[str, Any], llm: dict[str, Any], questions: Sequence[Question]
) -> dict[str, Any]:
    settings = mnemo.load_settings(home, {**overrides, "llm": {**overrides.get("llm", {}), **llm}})
    records = ask_all(settings, questions, use_llm=True)
    citations = sum(r["citations"] for r in records)
    kinds = {
        k: sum(r["kind"] == k for r in records) for k in ("generated", "extractive", "abstained")
    }
    fell_back = sum(any("language model failed" in w for w in r["warnings"]) for r in records)
    return {
        "provider": llm["provider"],
        "model": llm.get("model"),
        "base_url": llm["base_url"],
        "kinds": kinds,
        "fell_back_to_extractive": fell_back,
        "answer_accuracy": share(r["in_text"] for r in records),
        "answer_accuracy_generated": share(
            r["in_text"] for r in records if r["kind"] == "generated"
        ),
        "citations": citations,
        "citation_precision": round(sum(r["supported"] for r in records) / citations, 4)
        if citations
        else None,
        "p50_ms": round(statistics.median(r["ms"] for r in records), 1),
        "p95_ms": round(percentile([r["ms"] for r in records], 95), 1),
    }


# --- report -------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def relevance_lines(rel: dict[str, Any], unanswerable: str) -> list[str]:
    """The min_relevance calibration against one unanswerable collection, as markdown."""
    return [
        "",
        f"answer.min_relevance: answered on full vs abstained on {unanswerable}",
        "",
        "| chosen on | threshold | tested on | balanced acc. | answered (full) | abstained |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {f['chosen_on']} ids | {f['threshold']} | {f['tested_on']} ids "
            f"| {f['balanced_accuracy']} | {pct(f['answered_full'])} "
            f"| {pct(f['abstained_negatives'])} |"
            for f in rel["folds"]
        ),
        (
            f"cross-validated balanced accuracy {rel['cross_validated_balanced_accuracy']}; "
            f"chosen on all {rel['chosen_on_all']} (lowest of the best: "
            f"{rel['lowest_best_on_all']}) "
            f"(in-sample {rel['balanced_accuracy_all_in_sample']}); "
            f"current {rel['current']}: {rel['balanced_accuracy_current']}"
        ),
        f"best dense cosine: full {rel['full_max_dense']}, other {rel['negatives_max_dense']}",
        "",
        "| min_relevance | balanced acc. | answered (full) | abstained |",
        "| --- | --- | --- | --- |",
        *(
            f"| {t} | {c['balanced_accuracy']} | {pct(c['answered_full'])} "
            f"| {pct(c['abstained_negatives'])} |"
            for t, c in rel["curve"].items()
        ),
    ]


def markdown(results: dict[str, Any]) -> str:
    full, neg = results["full"], results["negatives"]
    lines = [
        (
            f"rgb-en-fact, {results['questions']} questions; "
            f"full: {full['collection']['passages']} passages, "
            f"negatives: {neg['collection']['passages']}; machine: {results['machine']}"
        ),
        "",
        (
            "| collection | min_relevance | answer in search hits | answer in answer.sources "
            "| answered, answer in sources | answer in answer text | abstained | ask p50 / p95 ms |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, found_ in (("full", full), ("negatives", neg), ("unrelated", results["unrelated"])):
        for label in ("current", "calibrated"):
            if label not in found_:
                continue
            f = found_[label]
            lines.append(
                f"| {name} | {f['min_relevance']} ({label}) "
                f"| {pct(found_.get('context_recall_hits'))} "
                f"| {pct(f['in_sources'])} | {pct(f['in_sources_answered'])} "
                f"| {pct(f['in_text'])} | {pct(f['abstained'])} | {f['p50_ms']} / {f['p95_ms']} |"
            )
    lines.append(
        f"questions whose answer string is in some passage of the negatives collection: "
        f"{pct(neg['answer_in_collection'])}"
    )
    rel = results["min_relevance_off_topic"]
    lines += relevance_lines(rel, "unrelated (rgb questions against MS MARCO passages)")
    lines += relevance_lines(results["min_relevance"], "negatives (same topic, no answer)")
    signal = results.get("rerank_score_signal")
    if signal:
        lines += ["", "The reranker's best score as the signal instead (answer.min_rerank_score):"]
        lines += relevance_lines(signal["unrelated"], "unrelated, reranker score")
        lines += relevance_lines(signal["negatives"], "negatives, reranker score")
    lines += [
        "",
        f"support score: pairs {results['support']['pairs']}",
        "",
        (
            "| score | chosen on | weight | threshold | tested on | precision | recall | F1 "
            "| counterfactual rejected | negatives rejected |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("combined", "lexical_only", "semantic_only"):
        found_ = results["support"][name]
        for f in found_["folds"]:
            lines.append(
                f"| {name} | {f['chosen_on']} ids | {f['weight']} | {f['threshold']} "
                f"| {f['tested_on']} ids | {f['precision']} | {f['recall']} | {f['f1']} "
                f"| {pct(f['rejected']['counterfactual'])} | {pct(f['rejected']['negative'])} |"
            )
        cv, chosen = found_["cross_validated"], found_["chosen_on_all"]
        lines.append(
            f"| {name} | (pooled held-out) | | | all | {cv['precision']} | {cv['recall']} "
            f"| {cv['f1']} | | |"
        )
        lines.append(
            f"| {name} | all (in-sample) | {chosen['weight']} | {chosen['threshold']} | all "
            f"| {found_['all_in_sample']['precision']} | {found_['all_in_sample']['recall']} "
            f"| {found_['all_in_sample']['f1']} "
            f"| {pct(found_['all_in_sample']['rejected']['counterfactual'])} "
            f"| {pct(found_['all_in_sample']['rejected']['negative'])} |"
        )
    cur = results["support"]["combined"]["current"]
    lines.append(
        f"| current guess | — | {cur['weight']} | {cur['threshold']} | all | {cur['precision']} "
        f"| {cur['recall']} | {cur['f1']} | {pct(cur['rejected']['counterfactual'])} "
        f"| {pct(cur['rejected']['negative'])} |"
    )
    chosen = results["support"]["combined"]["chosen_on_all"]
    lines += [
        "",
        (
            f"calibrated on all questions: answer.min_relevance = {rel['lowest_best_on_all']} "
            "(off-topic), "
            f"LEXICAL_WEIGHT = {chosen['weight']}, answer.min_support = {chosen['threshold']}"
        ),
        "",
    ]
    llm = results["llm"]
    if llm.get("skipped"):
        lines.append(f"generated answers: skipped ({llm['skipped']})")
    else:
        lines.append(
            f"generated answers ({llm['provider']}:{llm['model']}): accuracy "
            f"{pct(llm['answer_accuracy'])}, citation precision {pct(llm['citation_precision'])} "
            f"of {llm['citations']} citations, kinds {llm['kinds']}, "
            f"p50 / p95 {llm['p50_ms']} / {llm['p95_ms']} ms"
        )
    return "\n".join(lines)


def bench_collection(
    settings: mnemo.Settings,
    questions: Sequence[Question],
    calibrated: float | None = None,
) -> dict[str, Any]:
    """Every question asked with the current settings or, given ``calibrated``, with it
    as ``answer.min_relevance``."""
    home = settings.home
    result: dict[str, Any] = {}
    runs = [("current", settings.answer.min_relevance)]
    if calibrated is not None:
        runs = [("calibrated", calibrated)]
    for label, threshold in runs:
        tuned = settings.model_copy(
            update={"answer": settings.answer.model_copy(update={"min_relevance": threshold})}
        )
        records = ask_all(tuned, questions, use_llm=False)
        result[label] = {"min_relevance": threshold, **summarise_asks(records)}
        print(f"  {home.parent.name} {label}: {result[label]}", file=sys.stderr)
        result[label]["records"] = records
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "answers")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        help="a setting for the run, e.g. answer.passages=5",
    )
    parser.add_argument("--fresh", action="store_true", help="delete the homes and index again")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--current-only",
        action="store_true",
        help="ask with the current settings only, not again with the calibrated min_relevance "
        "(it decides nothing when answers rerank)",
    )
    args = parser.parse_args()
    from mnemo.config.settings import parse_assignments

    overrides = parse_assignments(args.assignments)
    # every answer is made, none read from the answer cache (a home from an earlier run
    # would otherwise answer with that run's code); the reranker remembers its scores
    overrides.setdefault("cache", {})["enabled"] = False
    search = overrides.setdefault("search", {})
    search["reranker"] = memo_reranker(search.get("reranker", "cross-encoder"))
    questions = load_questions(args.data)
    every = list(dict.fromkeys(p for q in questions for p in q.positive + q.negative))
    negative = list(dict.fromkeys(p for q in questions for p in q.negative))
    full_settings, full_info = build("full", every, args.work, overrides, args.fresh)
    neg_settings, neg_info = build("negatives", negative, args.work, overrides, args.fresh)

    unrelated = [
        f"{row['title']}\n{row['text']}".strip()
        for row in map(json.loads, (args.data.parent.parent / "msmarco" / "corpus.jsonl").open())
    ]
    off_settings, off_info = build("unrelated", unrelated, args.work, overrides, args.fresh)

    # Ask first, so that ask's latency is its own; the searches after it find the
    # reranker's scores for the same question and candidates remembered (MemoReranker).
    asked = {
        name: bench_collection(settings, questions)
        for name, settings in (
            ("full", full_settings),
            ("negatives", neg_settings),
            ("unrelated", off_settings),
        )
    }
    full_hits = search_all(full_settings, questions)
    neg_hits = search_all(neg_settings, questions)
    off_hits = search_all(off_settings, questions)
    full_best = {r["id"]: r["max_dense"] for r in full_hits}
    relevance = calibrate_relevance(
        full_best, {r["id"]: r["max_dense"] for r in neg_hits}, full_settings.answer.min_relevance
    )
    off_topic = calibrate_relevance(
        full_best, {r["id"]: r["max_dense"] for r in off_hits}, full_settings.answer.min_relevance
    )
    # The same, on the reranker's best score (when answers rerank): does it separate
    # answerable from unanswerable questions better than the cosine does?
    full_rerank = {r["id"]: r["max_rerank"] for r in full_hits}
    rerank_signal = None
    if any(v is not None for v in full_rerank.values()):
        rerank_signal = {
            "negatives": calibrate_relevance(
                full_rerank, {r["id"]: r["max_rerank"] for r in neg_hits}, 0.0, LOGITS
            ),
            "unrelated": calibrate_relevance(
                full_rerank, {r["id"]: r["max_rerank"] for r in off_hits}, 0.0, LOGITS
            ),
        }
    # The default must not abstain where the documents do answer: the off-topic
    # calibration (rgb questions against MS MARCO passages) sets it.
    calibrated = None if args.current_only else off_topic["lowest_best_on_all"]
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "settings": overrides,
        "questions": len(questions),
        "full": {
            "collection": full_info,
            "context_recall_hits": share(r["in_hits"] for r in full_hits),
            "searches": full_hits,
            **asked["full"],
            **(bench_collection(full_settings, questions, calibrated) if calibrated else {}),
        },
        "negatives": {
            "collection": neg_info,
            "context_recall_hits": share(r["in_hits"] for r in neg_hits),
            # the answer string is in some negative passage (of another question) at all
            "answer_in_collection": share(
                any(found(q.answers, text) for text in negative) for q in questions
            ),
            "searches": neg_hits,
            **asked["negatives"],
            **(bench_collection(neg_settings, questions, calibrated) if calibrated else {}),
        },
        "unrelated": {
            "collection": off_info,
            "searches": off_hits,
            **asked["unrelated"],
            **(bench_collection(off_settings, questions, calibrated) if calibrated else {}),
        },
        "min_relevance": relevance,
        "min_relevance_off_topic": off_topic,
        "rerank_score_signal": rerank_signal,
        "support": bench_support(full_settings, questions, full_settings.answer.min_support),
    }
    llm = llm_overrides()
    if llm is None:
        results["llm"] = {
            "skipped": "no LLM endpoint configured (MNEMO_BENCH_LLM_BASE_URL is not set)"
        }
    else:
        results["llm"] = bench_llm(full_settings.home, overrides, llm, questions)
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

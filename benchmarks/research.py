"""Research mode against one-pass ``ask`` on compound questions (rgb-en-fact pairs).

100 compound questions (``--seed``, default 15) each join two rgb-en-fact questions
of different topics (no content word in common, different answers):
"Who acquired Instagram, and who won the women's singles Wimbledon in 2019?".
Both modes answer them over the *full* collection of benchmarks/answers.py (every
positive and negative passage; built by that script's own code, in
``bench-out/answers/full`` unless ``--work`` says otherwise), offline (extractive),
in the same run:

- context recall, both parts: each part's reference answer is in the passages the
  mode read (one-pass: its search hits and its answer's sources, as answers.py
  measures; research: every passage any of its tool calls returned);
- extractive accuracy, both parts: each part's answer is in the answer text;
- per part figures, steps (tool calls) per question and latency.

With ``MNEMO_BENCH_LLM_BASE_URL`` and ``MNEMO_BENCH_LLM_MODEL`` (optional
``MNEMO_BENCH_LLM_API_KEY``, ``MNEMO_BENCH_LLM_PROVIDER``), the same compound
questions and the single questions are also answered with that model, research
mode against one-pass: accuracy, citation precision (supported / valid citations),
steps and tokens per question. Without them that part is skipped and says so.

    python benchmarks/research.py --json bench-out/research.json
    python benchmarks/research.py --limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import answers

import mnemo
from mnemo.generation.followup import content_words
from mnemo.library import Library


def pairs(questions: Sequence[answers.Question], count: int, seed: int) -> list[tuple[Any, Any]]:
    """``count`` pairs of questions of different topics, drawn with ``seed``."""
    rng = random.Random(seed)
    out: list[tuple[Any, Any]] = []
    seen: set[tuple[int, int]] = set()
    while len(out) < count:
        a, b = rng.sample(list(questions), 2)
        key = (min(a.id, b.id), max(a.id, b.id))
        if key in seen:
            continue
        if set(content_words(a.query)) & set(content_words(b.query)):
            continue  # same topic ("Wimbledon 2018" and "Wimbledon 2019")
        if {x.lower() for x in a.answers} & {x.lower() for x in b.answers}:
            continue
        seen.add(key)
        out.append((a, b))
    return out


def join(a: answers.Question, b: answers.Question) -> str:
    second = b.query.strip()
    second = second[0].lower() + second[1:] if second[:2] != second[:2].upper() else second
    return f"{a.query.strip().rstrip('?')}, and {second.rstrip('?')}?"


def one_pass(lib: Library, question: str) -> tuple[str, str, float]:
    """(answer text, passages read, ms of the ask alone): the search for context recall
    (the hits before the abstention decision, as answers.py reads them) is not timed."""
    settings = lib.settings
    started = time.perf_counter()
    answer = lib.ask(question, use_llm=False)
    ms = (time.perf_counter() - started) * 1000
    hits = lib.search(question, k=settings.answer.passages, rerank=settings.answer.rerank).hits
    read = "\n".join([h.text for h in hits] + [s.text for s in answer.sources])
    return answer.text, read, ms


def run_offline(settings: mnemo.Settings, compound: list[tuple[Any, Any]]) -> dict[str, Any]:
    records = []
    with Library(settings) as lib:
        lib.ask(compound[0][0].query, use_llm=False)  # warm-up: models, tables
        for n, (a, b) in enumerate(compound):
            question = join(a, b)
            text1, read1, ms1 = one_pass(lib, question)
            started = time.perf_counter()
            result = lib.research(question, use_llm=False)
            ms2 = (time.perf_counter() - started) * 1000
            read2 = "\n".join(p.text for p in [*result.read, *result.answer.sources])
            record = {
                "question": question,
                "ids": [a.id, b.id],
                "parts": [p.question for p in result.parts],
                "one_pass": {
                    "recall": [answers.found(q.answers, read1) is not None for q in (a, b)],
                    "accuracy": [answers.found(q.answers, text1) is not None for q in (a, b)],
                    "ms": round(ms1, 1),
                },
                "research": {
                    "recall": [answers.found(q.answers, read2) is not None for q in (a, b)],
                    "accuracy": [
                        answers.found(q.answers, result.answer.text) is not None for q in (a, b)
                    ],
                    "ms": round(ms2, 1),
                    "steps": result.steps,
                    "unanswered": result.unanswered,
                },
            }
            records.append(record)
            if n % 10 == 9:
                running = {m: summary(records, m) for m in ("one_pass", "research")}
                print(
                    f"  {n + 1}/{len(compound)}: {json.dumps(running)}", file=sys.stderr, flush=True
                )
    return {
        "one_pass": summary(records, "one_pass"),
        "research": summary(records, "research"),
        "records": records,
    }


def summary(records: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    rows = [r[mode] for r in records]
    out = {
        "both_parts_context_recall": answers.share(all(r["recall"]) for r in rows),
        "part_context_recall": answers.share(x for r in rows for x in r["recall"]),
        "both_parts_accuracy": answers.share(all(r["accuracy"]) for r in rows),
        "part_accuracy": answers.share(x for r in rows for x in r["accuracy"]),
        "p50_ms": round(statistics.median(r["ms"] for r in rows), 1),
        "p95_ms": round(answers.percentile([r["ms"] for r in rows], 95), 1),
    }
    if mode == "research":
        out["steps_mean"] = round(statistics.mean(r["steps"] for r in rows), 2)
        out["split_in_two"] = answers.share(len(r["parts"]) == 2 for r in records)
    return out


def run_llm(
    home: Path, llm: dict[str, Any], compound: list[tuple[Any, Any]], singles: Sequence[Any]
) -> dict[str, Any]:
    settings = mnemo.load_settings(home, {"llm": llm})
    out: dict[str, Any] = {"provider": llm["provider"], "model": llm.get("model")}
    with Library(settings) as lib:
        for label, items in (
            ("compound", [(join(a, b), [a, b]) for a, b in compound]),
            ("single", [(q.query, [q]) for q in singles]),
        ):
            rows = {"one_pass": [], "research": []}
            for question, refs in items:
                answer = lib.ask(question, use_llm=True)
                rows["one_pass"].append(_scored(answer, refs, 1, answer.usage))
                result = lib.research(question, use_llm=True)
                rows["research"].append(
                    _scored(result.answer, refs, result.steps, result.answer.usage)
                )
            out[label] = {mode: _llm_summary(r) for mode, r in rows.items()}
    return out


def _scored(answer: Any, refs: Sequence[Any], steps: int, usage: Any) -> dict[str, Any]:
    valid = [c for c in answer.citations if c.source is not None]
    return {
        "correct": all(answers.found(q.answers, answer.text) for q in refs),
        "citations": len(valid),
        "supported": sum(c.verdict == "supported" for c in valid),
        "steps": steps,
        "tokens": usage.input_tokens + usage.output_tokens,
    }


def _llm_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    cites = sum(r["citations"] for r in rows)
    return {
        "accuracy": answers.share(r["correct"] for r in rows),
        "citation_precision": round(sum(r["supported"] for r in rows) / cites, 4)
        if cites
        else None,
        "steps_mean": round(statistics.mean(r["steps"] for r in rows), 2),
        "tokens_mean": round(statistics.mean(r["tokens"] for r in rows), 1),
    }


def markdown(results: dict[str, Any]) -> str:
    pct = answers.pct
    lines = [
        (
            f"rgb-en-fact compound questions: {results['pairs']} pairs (seed {results['seed']}), "
            f"full collection ({results['collection']['passages']} passages); {results['machine']}"
        ),
        "",
        (
            "| mode | both-parts context recall | per-part recall | both-parts accuracy | "
            "per-part accuracy | p50 ms | p95 ms |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("one_pass", "research"):
        s = results["offline"][mode]
        lines.append(
            f"| {mode.replace('_', '-')} | {pct(s['both_parts_context_recall'])} | "
            f"{pct(s['part_context_recall'])} | {pct(s['both_parts_accuracy'])} | "
            f"{pct(s['part_accuracy'])} | {s['p50_ms']} | {s['p95_ms']} |"
        )
    r = results["offline"]["research"]
    lines += [
        "",
        (
            f"research: {r['steps_mean']} tool calls a question; split in two parts: "
            f"{pct(r['split_in_two'])}"
        ),
        "",
        f"model: {json.dumps(results['llm'])}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=answers.DATA)
    parser.add_argument("--work", type=Path, default=answers.ROOT / "bench-out" / "answers")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    questions = answers.load_questions(args.data)
    compound = pairs(questions, args.pairs, args.seed)[: args.limit]
    every = list(dict.fromkeys(p for q in questions for p in q.positive + q.negative))
    settings, info = answers.build("full", every, args.work, {}, False)
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}",
        "pairs": len(compound),
        "seed": args.seed,
        "collection": info,
        "offline": run_offline(settings, compound),
    }
    llm = answers.llm_overrides()
    if llm is None:
        results["llm"] = {
            "skipped": "no LLM endpoint configured (MNEMO_BENCH_LLM_BASE_URL is not set)"
        }
    else:
        results["llm"] = run_llm(settings.home, llm, compound, questions[: args.limit])
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

"""The answer caches on rgb-en-fact: calibration of the semantic threshold, then a replay.

1. Calibration. Each of the 100 questions gets rephrasings made by fixed
   templates (a trailing "in 2019" moved to the front, "Can you tell me ...",
   "I'd like to know ...", no question mark), the *paraphrase pairs*; every
   pair of two different questions with different answers is a *near miss*
   ("2014 winner" / "2010 winner", 4,950 pairs less the few with one answer).
   For each cosine distance threshold: the share of paraphrase pairs the
   semantic cache would answer, and the number of near misses it would answer
   (false hits), by distance alone and with the cache's guards (same key terms,
   not one word apart).
2. Replay. The questions' relevant passages are indexed; 200 questions are
   asked in order: the 100 questions, then 40 of them again word for word and
   60 rephrasings (30 %). Hit rate, latency of hits and misses, false hits.

    python benchmarks/cache.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import mnemo
from mnemo.generation.answer_cache import key_terms, one_word_apart

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "data"
THRESHOLDS = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10, 0.12, 0.15]


#: Near misses written here: the same names and numbers, another question. The
#: guards see no difference in key terms, so only the distance keeps them apart.
HARD_NEAR_MISSES = [
    ("Who directed Titanic?", "Who starred in Titanic?"),
    (
        "Who won the French Presidential Election 2017?",
        "Who came second in the French Presidential Election 2017?",
    ),
    ("When was GPT-3 released?", "Who released GPT-3?"),
    ("When was OpenAI founded?", "Who founded OpenAI?"),
    ("How much did Google acquire YouTube for?", "When did Google acquire YouTube?"),
    ("Who acquired Instagram?", "What did Instagram acquire?"),
    ("Who won the 2019 Tour de France?", "Who finished last in the 2019 Tour de France?"),
    ("What was Tesla's revenue in Q1 2021?", "What was Tesla's profit in Q1 2021?"),
    ("Who is the president of the NFL?", "Who was the first president of the NFL?"),
    ("Where was the Super Bowl 2021 played?", "Who played in the Super Bowl 2021?"),
    ("Who won the World Cup Final in 2018?", "Who scored in the World Cup Final in 2018?"),
    ("When does season 4 of The Crown premiere?", "Who stars in season 4 of The Crown?"),
]
_QUESTION_WORDS = (
    "who",
    "what",
    "when",
    "where",
    "which",
    "why",
    "how",
    "is",
    "are",
    "was",
    "did",
    "does",
    "do",
)


def rephrasings(question: str) -> list[str]:
    q = question.strip()
    bare = q.rstrip("?")
    first = bare.split(" ", 1)[0].lower()
    lower = bare[0].lower() + bare[1:] if first in _QUESTION_WORDS else bare
    found = [f"Can you tell me {lower}?", f"I'd like to know {lower}.", bare]
    moved = re.match(r"^(.*?)\s+in\s+(\d{4})$", bare)
    if moved:
        head = moved.group(1)
        found.append(f"In {moved.group(2)}, {head[0].lower() + head[1:]}?")
    return found


def _answer(item: dict[str, Any]) -> str:
    value = item["answer"]
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def calibrate(embed: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    questions = [i["query"] for i in items]
    vectors = np.array([embed(q) for q in questions])
    paraphrases = [(q, p) for q in questions for p in rephrasings(q)]
    para_vec = {p: embed(p) for _, p in paraphrases}
    rows = []
    para = [
        (1 - float(np.dot(vectors[questions.index(q)], para_vec[p])), _guarded(q, p))
        for q, p in paraphrases
    ]
    near = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if _answer(items[i]) == _answer(items[j]):
                continue
            distance = 1 - float(np.dot(vectors[i], vectors[j]))
            near.append(
                (distance, _guarded(questions[i], questions[j]), questions[i], questions[j])
            )
    for t in THRESHOLDS:
        rows.append(
            {
                "threshold": t,
                "paraphrase hits (distance only)": round(
                    sum(d <= t for d, _ in para) / len(para), 3
                ),
                "paraphrase hits (with guards)": round(
                    sum(d <= t and g for d, g in para) / len(para), 3
                ),
                "near-miss false hits (distance only)": sum(d <= t for d, *_ in near),
                "near-miss false hits (with guards)": sum(d <= t and g for d, g, *_ in near),
            }
        )
    hard = [
        (1 - float(np.dot(embed(a), embed(b))), _guarded(a, b), a, b) for a, b in HARD_NEAR_MISSES
    ]
    for row in rows:
        t = row["threshold"]
        row["hard near-miss false hits (with guards)"] = sum(d <= t and g for d, g, *_ in hard)
    closest = sorted((n for n in near + hard if n[1]), key=lambda n: n[0])[:5]
    return {
        "paraphrase pairs": len(para),
        "near-miss pairs": len(near),
        "rows": rows,
        "closest guarded near misses": [
            {"distance": round(d, 3), "a": a, "b": b} for d, _, a, b in closest
        ],
    }


def _guarded(a: str, b: str) -> bool:
    return key_terms(a) == key_terms(b) and not one_word_apart(a, b)


def replay(work: Path, items: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    n = 0
    for item in items:
        for passage in item["positive"][:2]:
            (docs / f"p{n:05d}.txt").write_text(passage + "\n")
            n += 1
    settings = mnemo.load_settings(work / "home", {"ingest": {"workers": 1}})
    rng = random.Random(seed)
    answer_of = {i["query"]: _answer(i) for i in items}
    order = [(i["query"], i["query"], "first") for i in items]
    again = rng.sample(items, 40)
    order += [(i["query"], i["query"], "repeat") for i in again]
    pool = [(i["query"], p) for i in items for p in rephrasings(i["query"])]
    order += [(q, p, "paraphrase") for q, p in rng.sample(pool, 60)]
    with mnemo.Library(settings) as library:
        started = time.perf_counter()
        library.add([docs])
        ingest_s = time.perf_counter() - started
        library.clear_cache()
        asked: dict[str, set[str]] = {}  # answer text -> the questions it was made for
        found: dict[str, list[float]] = {"hit": [], "miss": []}
        kinds: dict[str, dict[str, int]] = {}
        false_hits = []
        for original, text, kind in order:
            began = time.perf_counter()
            answer = library.ask(text)
            ms = (time.perf_counter() - began) * 1000
            hit = answer.cached_at is not None
            found["hit" if hit else "miss"].append(ms)
            tally = kinds.setdefault(kind, {"asked": 0, "hits": 0})
            tally["asked"] += 1
            tally["hits"] += hit
            if hit:
                # the questions whose fresh answer had this text: a hit is false when
                # none of them has the asked question's answer
                made_for = asked.get(answer.text, set())
                if made_for and answer_of[original] not in {answer_of[q] for q in made_for}:
                    false_hits.append({"asked": text, "answered as": sorted(made_for)})
            else:
                asked.setdefault(answer.text, set()).add(original)
        stats = library.cache_stats()
    return {
        "passages": n,
        "ingest_s": round(ingest_s, 1),
        "questions": len(order),
        "by kind": kinds,
        "hit rate": round(stats.hit_rate, 3),
        "exact hits": stats.exact,
        "semantic hits": stats.semantic,
        "false hits": false_hits,
        "hit ms p50": round(statistics.median(found["hit"]), 1) if found["hit"] else None,
        "miss ms p50": round(statistics.median(found["miss"]), 1) if found["miss"] else None,
        "saved s": round(stats.saved_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/mnemo-bench-cache"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    items = [json.loads(line) for line in (DATA / "rgb-en-fact" / "en_fact.jsonl").open()]
    settings = mnemo.load_settings(args.work / "home", {"ingest": {"workers": 1}})
    from mnemo.embeddings.resolve import configured, load

    embedder = load(configured(settings), settings)  # type: ignore[arg-type]
    result: dict[str, Any] = {"calibration": calibrate(embedder.embed_query, items)}
    print(json.dumps(result, indent=2), file=sys.stderr)
    if not args.skip_replay:
        result["replay"] = replay(args.work, items, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()

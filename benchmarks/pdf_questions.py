"""Offline answers over real PDFs: questions whose answer is one sentence, picked by hand.

``benchmarks/pdf_questions.jsonl`` holds 50 questions about the documentation of
LaTeX classes (acmart, llncs, elsarticle, REVTeX, apa7 …) shipped as PDFs in
Debian's ``texlive-publishers-doc``. Each row names the PDF (relative to
``texlive-doc``), the page, the answering sentence as Mnemo's PDF parser reads
it, and ``answer``: the distinctive part of that sentence (any listed form
counts), so a quote that holds it has quoted the answer.

The listed PDFs are copied into a scratch folder and indexed with the default
settings in their own home (``bench-out/pdf_questions``). For each question:

- *passage rank*: the rank of the first search hit (reranked, as ``ask``
  searches, read 20 deep) from the right file whose text holds the answer;
- *sentence rank*: the rank of the first candidate quote holding it among the
  candidates the extractive answerer scores (:func:`extractive.candidates` over
  the passages ``ask`` reads), or none when no candidate does;
- *extractive accuracy*: ``ask`` without a model (and without the answer cache)
  quotes it; and whether ``ask`` abstained.

    cd /tmp && apt-get download texlive-publishers-doc && dpkg -x texlive-publishers-doc_*.deb /tmp/texpdf
    python benchmarks/pdf_questions.py --pdfs /tmp/texpdf/usr/share/doc/texlive-doc --json out.json

A Markdown summary goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import mnemo

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = Path(__file__).resolve().parent / "pdf_questions.jsonl"
PDFS = Path("/tmp/texpdf/usr/share/doc/texlive-doc")
DEPTH = 20  # search hits read for the passage rank (the reranker reads this many)


def normal(text: str) -> str:
    return " ".join(text.split()).lower()


def holds(answers: list[str], text: str) -> bool:
    flat = normal(text)
    return any(normal(a) in flat for a in answers)


def first_rank(flags: list[bool]) -> int | None:
    return next((i + 1 for i, f in enumerate(flags) if f), None)


def build(rows: list[dict[str, Any]], pdfs: Path, work: Path, fresh: bool) -> mnemo.Settings:
    home, docs = work / "home", work / "docs"
    if fresh and home.exists():
        shutil.rmtree(home)
    for rel in sorted({r["file"] for r in rows}):
        target = docs / rel
        if not target.exists():
            source = pdfs / rel
            if not source.is_file():
                raise SystemExit(f"{source}: not found; unpack texlive-publishers-doc (see --help)")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    settings = mnemo.load_settings(home, {"cache": {"enabled": False}})
    started = time.perf_counter()
    report = mnemo.add([docs], settings)
    print(f"indexed {report.counts} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return settings


def bench(settings: mnemo.Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from mnemo.generation import extractive
    from mnemo.library import Library
    from mnemo.retrieval.rerank import load_reranker

    records = []
    with Library(settings) as library:
        library.warm_up()
        reranker = load_reranker(settings) if settings.answer.rerank else None
        for row in rows:
            question, answers = row["question"], row["answer"]
            response = library.search(question, k=DEPTH, rerank=settings.answer.rerank)
            right = [h.path.endswith(row["file"]) and holds(answers, h.text) for h in response.hits]
            read = response.hits[: settings.answer.passages]
            passages = library.context(read, max_tokens=2000, neighbours=settings.answer.neighbours)
            found = extractive.candidates(question, passages, reranker, None)
            started = time.perf_counter()
            answer = library.ask(question, use_llm=False, cache=False)
            seconds = time.perf_counter() - started
            record = {
                "question": question,
                "file": row["file"],
                "page": row["page"],
                "passage_rank": first_rank(right),
                "in_passages": any(holds(answers, p.text) for p in passages),
                "sentence_rank": first_rank([holds(answers, c.text) for c in found]),
                "candidates": len(found),
                "kind": answer.kind,
                "quoted": holds(answers, answer.text),
                "answer": answer.text,
                "seconds": round(seconds, 2),
            }
            records.append(record)
            mark = "ok " if record["quoted"] else "MISS"
            print(
                f"{mark} passage {record['passage_rank']} sentence {record['sentence_rank']} "
                f"{question}",
                file=sys.stderr,
            )
    return records


def share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    passage = [r["passage_rank"] for r in records]
    sentence = [r["sentence_rank"] for r in records]
    reached = [r for r in records if r["in_passages"]]
    return {
        "questions": len(records),
        "extractive_accuracy": share([r["quoted"] for r in records]),
        "abstained": share([r["kind"] == "abstained" for r in records]),
        "passage_rank_1": share([p == 1 for p in passage]),
        "passage_in_top_5": share([p is not None and p <= 5 for p in passage]),
        "passage_in_top_20": share([p is not None for p in passage]),
        "answer_in_passages_read": share([r["in_passages"] for r in records]),
        "sentence_rank_1": share([s == 1 for s in sentence]),
        "sentence_in_top_3": share([s is not None and s <= 3 for s in sentence]),
        "sentence_rank_1_when_read": share([r["sentence_rank"] == 1 for r in reached]),
        "accuracy_when_read": share([r["quoted"] for r in reached]),
        "median_sentence_rank": statistics.median([s for s in sentence if s is not None] or [0]),
        "ask_p50_s": round(statistics.median(r["seconds"] for r in records), 2),
    }


def markdown(summary: dict[str, Any], records: list[dict[str, Any]]) -> str:
    def pct(value: float) -> str:
        return f"{100 * value:.0f} %"

    lines = [
        (
            f"{summary['questions']} questions over {len({r['file'] for r in records})} PDFs; "
            f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}"
        ),
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| extractive accuracy (answer sentence quoted) | {pct(summary['extractive_accuracy'])} |",
        f"| abstained | {pct(summary['abstained'])} |",
        (
            f"| answer passage: rank 1 / top 5 / top 20 of search | "
            f"{pct(summary['passage_rank_1'])} / {pct(summary['passage_in_top_5'])} / "
            f"{pct(summary['passage_in_top_20'])} |"
        ),
        f"| answer in the passages ask reads | {pct(summary['answer_in_passages_read'])} |",
        (
            f"| answer sentence: rank 1 / top 3 of candidates | {pct(summary['sentence_rank_1'])}"
            f" / {pct(summary['sentence_in_top_3'])} |"
        ),
        (
            f"| when the passages hold it: sentence rank 1 / quoted | "
            f"{pct(summary['sentence_rank_1_when_read'])} / {pct(summary['accuracy_when_read'])} |"
        ),
        f"| ask p50 | {summary['ask_p50_s']} s |",
        "",
        "Missed:",
        "",
        *(
            f"- {r['question']} (p. {r['page']}; passage rank {r['passage_rank']}, "
            f"sentence rank {r['sentence_rank']}, {r['kind']})"
            for r in records
            if not r["quoted"]
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pdfs", type=Path, default=PDFS, help="the unpacked texlive-doc folder")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "pdf_questions")
    parser.add_argument("--fresh", action="store_true", help="delete the home and index again")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.questions.open() if line.strip()]
    settings = build(rows, args.pdfs, args.work, args.fresh)
    records = bench(settings, rows)
    summary = summarise(records)
    print(markdown(summary, records))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "records": records}, indent=2))


if __name__ == "__main__":
    main()

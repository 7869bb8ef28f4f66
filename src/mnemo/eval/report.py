"""Reports of `mnemo eval` and `mnemo eval tune`, as Markdown and as HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from mnemo.eval.score import EvalResult
from mnemo.eval.tune import TuneResult

_LABELS = {
    "cases": "cases",
    "recall@10": "recall@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "search_ms_p50": "search p50 (ms)",
    "search_ms_p95": "search p95 (ms)",
    "answer_ms_p50": "answer p50 (ms)",
    "answer_ms_p95": "answer p95 (ms)",
    "abstained": "abstained",
    "context_recall": "context recall",
    "faithfulness": "faithfulness (citations supported)",
    "correctness": "correctness (LLM judge)",
    "tokens": "LLM tokens",
    "cost_usd": "estimated cost ($, traces.prices)",
}


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and value >= 10 else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def eval_markdown(result: EvalResult) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Evaluation of collection `{result.collection}`",
        "",
        f"{when}; answers by {result.model or 'extractive answering (no language model)'}.",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for key, value in result.metrics.items():
        lines.append(f"| {_LABELS.get(key, key)} | {_cell(value)} |")
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    missed = [c for c in result.cases if c.relevant and c.rank is None]
    lines += [
        "",
        f"## Cases ({len(result.cases)}; {len(missed)} passage(s) not found in the top {result.k})",
        "",
    ]
    lines += ["| case | origin | question | rank | answer | faithful | correct | ms |"]
    lines += ["| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in result.cases:
        ms = c.answer_ms if c.answer_ms is not None else c.search_ms
        lines.append(
            f"| {c.id} | {c.origin} | {_cell(c.question[:100])} | {_cell(c.rank)} | "
            f"{_cell(c.kind)} | {_cell(c.faithfulness)} | {_cell(c.correctness)} | {ms:.0f} |"
        )
    return "\n".join(lines) + "\n"


def tune_markdown(result: TuneResult) -> str:
    lines = [
        f"# Tuning collection `{result.collection}`",
        "",
        f"Tuned on {result.sizes[0]} case(s), reported on {result.sizes[1]} held-out case(s).",
        "",
        "| setting | current | tuned |",
        "| --- | --- | --- |",
    ]
    for key, value in result.chosen.items():
        lines.append(f"| {key} | {_cell(result.current.get(key))} | {_cell(value)} |")
    for title, table in (("Held-out half", result.test), ("Tuning half", result.tuning)):
        if not table:
            continue
        lines += ["", f"## {title}", "", "| | " + " | ".join(_columns(table)) + " |"]
        lines.append("| --- " * (len(_columns(table)) + 1) + "|")
        for name, values in table.items():
            cells = [_cell(values.get(col)) for col in _columns(table)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    return "\n".join(lines) + "\n"


def _columns(table: dict[str, dict[str, float]]) -> list[str]:
    seen: list[str] = []
    for values in table.values():
        seen += [k for k in values if k not in seen]
    return seen


def to_html(markdown: str, title: str) -> str:
    from markdown_it import MarkdownIt

    # Raw HTML off: questions and answers come from documents and models, and the
    # report is served by the REST API; markdown-it escapes what it does not render.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
        "text-align:left;vertical-align:top}"
    )
    return (
        f"<!doctype html>\n<html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{style}</style>\n<body>\n{body}</body></html>\n"
    )


def write(markdown: str, base: Path, title: str) -> tuple[Path, Path]:
    """``base``.md and ``base``.html; returns both paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    md, html = base.with_suffix(".md"), base.with_suffix(".html")
    md.write_text(markdown, encoding="utf-8")
    html.write_text(to_html(markdown, title), encoding="utf-8")
    return md, html

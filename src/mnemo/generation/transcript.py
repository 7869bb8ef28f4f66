"""A conversation as Markdown: each question, its answer with its ``[n]`` citations,
and the sources those numbers point to (file, page, section, the passage's words),
each with the verdict its citation got."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnemo.catalog.models import Turn
from mnemo.generation.conversations import ConversationInfo

_KINDS = {
    "extractive": "Extractive answer: sentences quoted from the documents, no language model.",
    "abstained": "Not found in the documents; the nearest passages are listed.",
    "unverified": "Unverified: no citation in this answer could be checked against its sources.",
}
_VERDICTS = {"invalid": "removed"}
_QUOTE = 300


def to_markdown(info: ConversationInfo, turns: Sequence[Turn]) -> str:
    lines = [
        f"# {info.title or 'Conversation'}",
        "",
        (
            f"Collection `{info.collection}` · started {info.created_at:%Y-%m-%d %H:%M} UTC · "
            f"{len(turns)} question{'s' if len(turns) != 1 else ''}"
        ),
    ]
    for turn in turns:
        lines += ["", f"## {' '.join(turn.question.split())}", ""]
        if turn.kind in _KINDS:
            lines += [f"*{_KINDS[turn.kind]}*", ""]
        lines.append(turn.answer.strip())
        sources = _sources(turn)
        if sources:
            lines += ["", "Sources:", ""]
            lines += [
                _source_line(s, _verdicts(turn).get(int(s.get("number", 0)))) for s in sources
            ]
    return "\n".join(lines) + "\n"


def _verdicts(turn: Turn) -> dict[int, str]:
    found: dict[int, str] = {}
    for cited in turn.citations:
        item: dict[str, Any] = cited if isinstance(cited, dict) else {}
        verdict = str(item.get("verdict", ""))
        found.setdefault(int(item.get("number", 0)), _VERDICTS.get(verdict, verdict))
    return found


def _sources(turn: Turn) -> list[dict[str, Any]]:
    """The turn's sources; for turns kept before sources were, what the citations name."""
    kept = [s for s in (getattr(turn, "sources", None) or []) if isinstance(s, dict)]
    if kept:
        return kept
    seen: dict[int, dict[str, Any]] = {}
    for cited in turn.citations:
        if isinstance(cited, dict) and cited.get("path"):
            seen.setdefault(int(cited.get("number", 0)), dict(cited))
    return list(seen.values())


def _source_line(source: dict[str, Any], verdict: str | None) -> str:
    where = str(source.get("path") or "")
    if source.get("page"):
        where += f", page {source['page']}"
    if source.get("heading_path"):
        where += " (" + " › ".join(source["heading_path"]) + ")"
    line = f"[{source.get('number', '?')}] {where}"
    if verdict:
        line += f" — {verdict}"
    text = " ".join(str(source.get("text") or "").split())
    if text:
        quote = text[:_QUOTE] + ("…" if len(text) > _QUOTE else "")
        line += f"\n    > {quote}"
    return f"- {line}"

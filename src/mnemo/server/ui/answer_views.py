"""Answers as the chat page shows them, whether just given (an :class:`Answer`) or kept
in a conversation (a :class:`Turn`): the text with a chip per ``[n]`` that shows its
verdict and opens the viewer at the cited passage, and the sources panel."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from mnemo.agents.types import ResearchAnswer
from mnemo.catalog.models import Turn
from mnemo.generation.conversations import FeedbackInfo, source_record
from mnemo.generation.types import Answer
from mnemo.server.auth import UI_PREFIX
from mnemo.server.ui.pdfpage import quote_page
from mnemo.server.ui.render import render, url

_MARKER = re.compile(r"\[(\d{1,3})\]")
VERDICTS = {
    "supported": "supported",
    "quoted": "quoted",
    "unsupported": "unsupported",
    "invalid": "removed",
}
Chips = dict[int, list[dict[str, Any]]]


def with_chips(text: str, chips: Chips) -> Markup:
    """The answer's text escaped, each ``[n]`` a link to its passage showing its verdict."""
    taken: dict[int, int] = defaultdict(int)
    out: list[Markup] = []
    at = 0
    for match in _MARKER.finditer(text):
        number = int(match.group(1))
        found = chips.get(number)
        if not found:
            continue
        chip = found[min(taken[number], len(found) - 1)]
        taken[number] += 1
        out += [escape(text[at : match.start()]), Markup(render("chip.html", chip=chip))]
        at = match.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


def cited_page(path: str, quote: str | None, first: int | None, last: int | None) -> int | None:
    """The page a citation opens: where its quote is, when its passage runs over a page
    break of a PDF (else the passage's first page)."""
    if not (quote and first and last and last > first and path.lower().endswith(".pdf")):
        return first
    return quote_page(Path(path), quote, first, last)


def passage_link(
    collection: str, doc: str | None, chunk: str | None, page: int | None
) -> str | None:
    """The viewer at a passage: its document, page and chunk (highlighted)."""
    if not doc:
        return None
    return url(f"{UI_PREFIX}/view", c=collection, doc=doc, chunk=chunk, page=page)


def _source_view(source: dict[str, Any], collection: str) -> dict[str, Any]:
    path = str(source.get("path") or "")
    label = source.get("title") or path.rsplit("/", 1)[-1]
    return {
        "number": source.get("number"),
        "label": f"{label}, page {source['page']}" if source.get("page") else label,
        "link": passage_link(
            collection, source.get("document_id"), source.get("chunk_id"), source.get("page")
        ),
        "text": str(source.get("text") or ""),
    }


def _view(
    *,
    question: str,
    searched: str,
    kind: str,
    model: str | None,
    text: str,
    chips: Chips,
    sources: list[dict[str, Any]],
    warnings: list[str],
    collection: str,
    conversation: str | None,
    position: int | None,
    feedback: FeedbackInfo | None,
    cached: str | None = None,
) -> dict[str, Any]:
    return {
        "cached": cached,
        "question": question,
        # A follow-up is searched as a question that stands alone: show what was searched.
        "searched": searched if searched and searched.strip() != question.strip() else None,
        "kind": kind,
        "model": model,
        "html": with_chips(text, chips),
        "sources": [_source_view(s, collection) for s in sources],
        "warnings": warnings,
        "conversation": conversation,
        "position": position,
        "feedback": feedback,
    }


def answer_view(answer: Answer, collection: str) -> dict[str, Any]:
    """An answer just given (its turn, when it was kept in a conversation)."""
    chips: Chips = defaultdict(list)
    for citation in answer.citations:
        source = citation.source
        link = None
        if source is not None:
            chunk = source.chunk_ids[0] if source.chunk_ids else None
            page = cited_page(source.path, citation.quote, source.page_start, source.page_end)
            link = passage_link(collection, source.document_id, chunk, page)
        chips[citation.number].append(
            {
                "number": citation.number,
                "link": link,
                "verdict": VERDICTS.get(citation.verdict, citation.verdict),
                "quote": citation.quote,
            }
        )
    return _view(
        question=answer.question,
        searched=answer.query,
        kind=answer.kind,
        model=answer.model,
        text=answer.text,
        chips=chips,
        sources=[source_record(s) for s in answer.sources],
        warnings=answer.warnings,
        collection=collection,
        conversation=answer.conversation_id,
        position=answer.turn,
        feedback=None,
        cached=answer.cached_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if answer.cached_at is not None
        else None,
    )


def research_view(found: ResearchAnswer) -> dict[str, Any]:
    """What research mode adds to its answer: each traced step, the parts left unanswered,
    and a fact it was asked to remember."""
    return {
        "steps": [
            {"kind": e.kind, "message": e.message, "seconds": e.seconds} for e in found.trace
        ],
        "unanswered": found.unanswered,
        "remembered": found.remembered.text if found.remembered is not None else None,
        "stopped": found.stopped,
    }


def turn_view(turn: Turn, collection: str, feedback: FeedbackInfo | None = None) -> dict[str, Any]:
    """An answer kept in a conversation: its chips open the passage they pointed to
    (turns kept before passages were, the document's page)."""
    chips: Chips = defaultdict(list)
    sources = {int(s.get("number", 0)): s for s in (turn.sources or []) if isinstance(s, dict)}
    for cited in turn.citations:
        item: dict[str, Any] = cited if isinstance(cited, dict) else {}
        number = int(item.get("number", 0))
        doc = item.get("document_id") or item.get("path")
        passage = sources.get(number, {})
        page = cited_page(
            str(item.get("path") or ""),
            item.get("quote"),
            item.get("page"),
            passage.get("page_end"),
        )
        chips[number].append(
            {
                "number": number,
                "link": passage_link(collection, doc, item.get("chunk_id"), page),
                "verdict": VERDICTS.get(item.get("verdict", ""), "removed"),
                "quote": None,
            }
        )
    return _view(
        question=turn.question,
        searched=turn.query,
        kind=turn.kind,
        model=None,
        text=turn.answer,
        chips=chips,
        sources=[s for s in (turn.sources or []) if isinstance(s, dict)],
        warnings=[],
        collection=collection,
        conversation=turn.conversation_id,
        position=turn.position,
        feedback=feedback,
    )

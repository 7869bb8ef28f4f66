"""An :class:`~mnemo.generation.types.Answer` as plain JSON and back (the answer cache)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mnemo.generation.base import Usage
from mnemo.generation.types import Answer, Citation
from mnemo.retrieval.context import ContextPassage


def to_json(answer: Answer) -> dict[str, Any]:
    """Everything an answer shows, sources and citations included (by source number)."""
    return {
        "question": answer.question,
        "text": answer.text,
        "kind": answer.kind,
        "query": answer.query,
        "model": answer.model,
        "warnings": list(answer.warnings),
        "injections": list(answer.injections),
        "usage": asdict(answer.usage),
        "seconds": dict(answer.seconds),
        "sources": [asdict(s) for s in answer.sources],
        "citations": [
            {
                "number": c.number,
                "sentence": c.sentence,
                "verdict": c.verdict,
                "score": c.score,
                "quote": c.quote,
                "source": c.source.number if c.source is not None else None,
                "extra": asdict(c.source) if c.source is not None else None,
            }
            for c in answer.citations
        ],
    }


def from_json(data: dict[str, Any]) -> Answer:
    sources = [ContextPassage(**s) for s in data["sources"]]
    by_number = {s.number: s for s in sources}
    citations = []
    for c in data["citations"]:
        source = None
        if c["extra"] is not None:
            source = ContextPassage(**c["extra"])
            if by_number.get(source.number) == source:
                source = by_number[source.number]  # the same object, as the answer had it
        citations.append(
            Citation(c["number"], c["sentence"], c["verdict"], c["score"], c["quote"], source)
        )
    return Answer(
        question=data["question"],
        text=data["text"],
        kind=data["kind"],
        citations=citations,
        sources=sources,
        query=data["query"],
        model=data["model"],
        warnings=list(data["warnings"]),
        injections=list(data.get("injections", [])),
        usage=Usage(**data["usage"]),
        seconds=dict(data["seconds"]),
    )

"""What an answer is made of: the text, its sources, and a verdict per citation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mnemo.generation.base import Usage
from mnemo.retrieval.context import ContextPassage

#: unverified: written by the model, but it cites none of the sources it was given (so
#: nothing in it could be checked), or it may follow an instruction found in a document.
AnswerKind = Literal["generated", "extractive", "abstained", "unverified"]

#: supported: the cited passage backs the sentence (score >= answer.min_support);
#: unsupported: it does not; quoted: the sentence is the passage's own words
#: (extractive answers); invalid: the number points to no source given (removed).
Verdict = Literal["supported", "unsupported", "quoted", "invalid"]


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] in the answer text
    sentence: str  # the answer sentence that carries it, markers removed
    verdict: Verdict
    score: float | None  # support score (None for invalid citations)
    quote: str | None  # the passage's sentence that best matches, for the reader to check
    source: ContextPassage | None  # None when the number points to no source

    @property
    def path(self) -> str | None:
        """The cited file, or None for an invalid citation."""
        return self.source.path if self.source is not None else None

    @property
    def page(self) -> int | None:
        """The first page of the cited passage, where the file has pages."""
        return self.source.page_start if self.source is not None else None


@dataclass
class Answer:
    question: str
    text: str  # as shown: invalid citation markers removed
    kind: AnswerKind
    citations: list[Citation]
    sources: list[ContextPassage]  # numbered as cited; for an abstention, the nearest passages
    query: str = ""  # what was searched: the question, or its standalone rewrite
    model: str | None = None  # "provider:model" for generated answers
    warnings: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    seconds: dict[str, float] = field(default_factory=dict)  # retrieve, generate, verify, total
    conversation_id: str | None = None
    turn: int | None = None  # its position in the conversation, once recorded
    cached_at: datetime | None = None  # when the answer was made, if it came from the cache
    injections: list[str] = field(default_factory=list)  # passages that read as instructions
    masked: int = 0  # personal values masked before the question went to a remote model
    trace_id: str | None = None  # the ask's trace (`mnemo traces show ID`), when traced

    @property
    def cited(self) -> list[ContextPassage]:
        """Sources that at least one valid citation points to, in number order."""
        numbers = {c.number for c in self.citations if c.source is not None}
        return [s for s in self.sources if s.number in numbers]

    @property
    def message_id(self) -> str | None:
        """What a reader judges the answer by (`mnemo feedback`): its conversation and
        position, once it is recorded in one."""
        if self.conversation_id is None or self.turn is None:
            return None
        return f"{self.conversation_id}-{self.turn}"

    @property
    def unsupported(self) -> list[Citation]:
        return [c for c in self.citations if c.verdict in ("unsupported", "invalid")]

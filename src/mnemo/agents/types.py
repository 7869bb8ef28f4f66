"""What a research run returns and the events it streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mnemo.catalog.memory import MemoryInfo
from mnemo.generation.types import Answer
from mnemo.retrieval.context import ContextPassage


@dataclass(frozen=True)
class ResearchEvent:
    """One traced step: plan, tool, grade, requery, synthesise, verify, memory, budget, done."""

    kind: str
    message: str  # one line for a person
    data: dict[str, Any] = field(default_factory=dict)  # tool args, counts, scores
    seconds: float = 0.0  # since the run began


EventHandler = Callable[[ResearchEvent], None]


@dataclass(frozen=True)
class Part:
    question: str
    answered: bool
    tools: list[str]  # the tools and transforms tried, in order
    passages: int


@dataclass
class ResearchAnswer:
    answer: Answer  # text, citations, sources as for one-pass ask
    run_id: str  # the checkpoint thread: pass it back to resume
    parts: list[Part] = field(default_factory=list)
    memories: list[MemoryInfo] = field(default_factory=list)  # recalled, cited as [M1]...
    remembered: MemoryInfo | None = None  # saved by this question ("remember that ...")
    trace: list[ResearchEvent] = field(default_factory=list)
    stopped: str | None = None  # the budget that stopped the run early, if any
    interrupted: bool = False  # paused at a checkpoint: resume with run_id
    comparison: bool = False
    read: list[ContextPassage] = field(default_factory=list)  # every passage the tools returned

    @property
    def unanswered(self) -> list[str]:
        return [p.question for p in self.parts if not p.answered]

    @property
    def steps(self) -> int:
        return sum(1 for e in self.trace if e.kind in ("tool", "model"))

"""Short-term memory: the conversation so far, kept within ``research.history_tokens``.

The newest turns are kept word for word while they fit half the budget; the older
ones are summarised, by the model when there is one (one call, text only, no tools),
otherwise reduced to their questions. A follow-up is then made to stand alone
(:func:`mnemo.generation.followup.standalone`) before it is planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mnemo.errors import LLMError
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Usage

Turn = tuple[str, str]


@dataclass
class Fitted:
    history: list[Turn]
    summarised: int = 0  # older turns folded into the summary
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


def tokens(text: str) -> int:
    return len(text.split()) * 4 // 3 + 1


def fit(history: Sequence[Turn], budget: int, llm: LLM | None) -> Fitted:
    turns = list(history)
    if sum(tokens(q) + tokens(a) for q, a in turns) <= budget:
        return Fitted(turns)
    kept: list[Turn] = []
    used = 0
    for question, answer in reversed(turns):
        cost = tokens(question) + tokens(answer)
        if kept and used + cost > budget // 2:
            break
        kept.insert(0, (question, answer))
        used += cost
    older = turns[: len(turns) - len(kept)]
    out = Fitted(kept, len(older))
    text = ""
    if llm is not None and older:
        from mnemo.agents.prompts import SUMMARISE

        body = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in older)
        try:
            reply = llm.complete(
                ChatRequest(SUMMARISE, [ChatMessage("user", body)], max(64, budget // 2), 0.0)
            )
            out.usage.add(reply.usage)
            text = " ".join(reply.text.split())
        except LLMError as exc:
            out.warnings.append(f"could not summarise the conversation ({exc})")
    if not text:
        text = "Earlier questions: " + " / ".join(q for q, _ in older)
    out.history = [("(the conversation before)", text), *kept]
    return out

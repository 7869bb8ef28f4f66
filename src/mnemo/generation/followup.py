"""Follow-up questions made to stand alone before anything is searched.

"How was it initialized from the teacher?" means nothing to a search index; in
a conversation about DistilBERT it means "How was DistilBERT initialized from
the teacher?". Every front end (CLI chat, REST conversations, /v1 chat
completions, MCP) passes the earlier turns to :func:`standalone`, which runs
before retrieval and before the abstention check:

- With a language model, the model rewrites the question from the last few
  turns (``prompts.REWRITE``).
- Without one (or when the model fails), a question that reads as a follow-up
  (it points back with "it", "they", "this paper"..., opens with "and" or "what
  about", or has fewer than two content words of its own) carries the content
  words of the previous question, itself made standalone the same way, so a
  chain of follow-ups keeps its subject. A question that stands alone is
  searched as asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from mnemo.errors import LLMError
from mnemo.generation import prompts
from mnemo.generation.base import LLM, ChatRequest, Usage
from mnemo.retrieval.snippets import STOP, WORD

#: (question, answer) of each earlier turn, oldest first; the answer may be "".
History = Sequence[tuple[str, str]]

_POINTING = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|he|him|his|she|her|hers|these|those|"
    r"such|former|latter|the same|this(?!\s+(?:year|week|month|time)\b)|"
    r"that(?=\s*(?:[?.!,]|$|one\b|is\b|was\b|does\b|do\b|work|mean|model|paper|method)))\b",
    re.IGNORECASE,
)
_OPENING = re.compile(
    r"^\s*(?:and|but|so|also|then|what about|how about|why|why not|and why|what else)\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "where",
        "when",
        "does",
        "did",
        "do",
        "can",
        "could",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "tell",
        "me",
        "about",
        "explain",
        "describe",
        "give",
        "show",
        "list",
        "please",
        "much",
        "many",
        "we",
        "us",
        "our",
        "you",
        "they",
        "them",
        "it",
        "its",
        "is",
        "was",
        "were",
        "been",
        "being",
        "has",
        "had",
        "not",
        "any",
        "some",
        "more",
    ]
)
_MIN_OWN_TERMS = 2


@dataclass
class Standalone:
    query: str  # what to search and quote against
    resolved: bool = False  # the question was rewritten or carried terms
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its subject, in order, each once (case kept)."""
    seen: dict[str, str] = {}
    for word in WORD.findall(text):
        lower = word.lower()
        if lower in STOP or lower in _QUESTION_WORDS or (len(lower) < 2 and not word.isdigit()):
            continue
        seen.setdefault(lower, word)
    return list(seen.values())


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on an earlier turn to be understood."""
    return (
        bool(_POINTING.search(question))
        or bool(_OPENING.match(question))
        or len(content_words(question)) < _MIN_OWN_TERMS
    )


def carry_terms(question: str, previous: str) -> str:
    """``question`` with the content words of ``previous`` it lacks, when it is a follow-up."""
    if not is_follow_up(question):
        return question
    own = {w.lower() for w in content_words(question)}
    carried = [w for w in content_words(previous) if w.lower() not in own]
    return f"{question} ({' '.join(carried)})" if carried else question


def _carried(question: str, history: History) -> str:
    previous = ""
    for earlier, _ in history:
        previous = carry_terms(earlier, previous) if previous else earlier
    return carry_terms(question, previous) if previous else question


def standalone(question: str, history: History, llm: LLM | None) -> Standalone:
    """``question`` as a query that stands alone, given the earlier turns ``history``."""
    if not history:
        return Standalone(question)
    if llm is not None:
        request = ChatRequest(
            prompts.REWRITE,
            prompts.rewrite_messages(list(history)[-4:], question),
            max_tokens=64,
            temperature=0.0,
        )
        try:
            reply = llm.complete(request)
        except LLMError as exc:
            query = _carried(question, history)
            return Standalone(
                query,
                query != question,
                warnings=[f"could not rewrite the follow-up ({exc}); searched: {query}"],
            )
        rewritten = " ".join(reply.text.strip().strip('"').split())
        return Standalone(rewritten or question, bool(rewritten), reply.usage)
    query = _carried(question, history)
    return Standalone(query, query != question)

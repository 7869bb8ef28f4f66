"""Answers without a language model: the best sentences of the best passages.

Each sentence of the retrieved passages is scored by how well it answers the
question: the cosine similarity of its embedding to the question's (when the
collection has an embedder), the share of the question's content words it
contains, a small prior for the passage's rank, and its novelty: the share of
its own content words that the question does not have. A sentence that only
restates the question says nothing new; on rgb-en-fact the novelty term took
extractive accuracy from 60 to 74 of 100 (better on both halves of the
questions; docs/benchmarks.md). The best are taken greedily,
skipping any that repeats one already taken, and each is quoted whole with the
number of its passage, so every citation is the source's own words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnemo.generation.sentences import split_sentences
from mnemo.generation.support import lexical_support, weighted_terms
from mnemo.generation.types import Citation
from mnemo.retrieval.context import ContextPassage

if TYPE_CHECKING:
    from mnemo.embeddings import Embedder

_MIN_CHARS = 20  # headings, list bullets and page furniture say too little alone
_MAX_CHARS = 600
_NOVELTY = 0.6  # weight of the share of words the question does not have (benchmarks/answers.py)
_REPEAT = 0.7  # a sentence sharing this much of its content words with a chosen one repeats it
_BULLET = re.compile(r"^(?:[-*+•]|\d{1,3}[.)]|#{1,6})\s+")


def _clean(sentence: str) -> str | None:
    """The sentence as it reads in prose, or None for code, tables and fragments."""
    if "```" in sentence or "|" in sentence or sentence.count("\n") > 4:
        return None
    text = " ".join(_BULLET.sub("", line.strip()) for line in sentence.splitlines())
    text = " ".join(text.split())
    letters = sum(ch.isalpha() for ch in text)
    if not _MIN_CHARS <= len(text) <= _MAX_CHARS or letters < len(text) / 2:
        return None
    return text


@dataclass(frozen=True)
class Candidate:
    text: str
    passage: ContextPassage
    score: float


def candidates(
    question: str, passages: Sequence[ContextPassage], embedder: Embedder | None
) -> list[Candidate]:
    """Every usable sentence of ``passages``, best answer first."""
    pool = [
        (text, p)
        for p in passages
        for s in split_sentences(p.text)
        if (text := _clean(s.text)) is not None
    ]
    if not pool:
        return []
    semantic = [0.0] * len(pool)
    if embedder is not None:
        vectors = embedder.embed_documents([text for text, _ in pool])
        semantic = [float(x) for x in vectors @ embedder.embed_query(question)]
    ranks = sorted({p.number for p in passages})
    asked = weighted_terms(question).keys()
    scored = []
    for (text, passage), cosine in zip(pool, semantic, strict=True):
        overlap = lexical_support(question, text)
        prior = 1.0 - ranks.index(passage.number) / len(ranks)
        terms = weighted_terms(text).keys()
        novelty = len(terms - asked) / len(terms) if terms else 0.0
        score = (0.6 * cosine if embedder else 0.0) + 0.3 * overlap + 0.1 * prior
        scored.append(Candidate(text, passage, score + _NOVELTY * novelty))
    return sorted(scored, key=lambda c: -c.score)


def extract(
    question: str,
    passages: Sequence[ContextPassage],
    embedder: Embedder | None,
    count: int,
) -> tuple[str, list[Citation]]:
    """Up to ``count`` sentences that answer ``question``, each cited; best first."""
    chosen: list[Candidate] = []
    seen: list[dict[str, float]] = []
    for candidate in candidates(question, passages, embedder):
        terms = weighted_terms(candidate.text)
        if any(_shared(terms, other) >= _REPEAT for other in seen):
            continue
        chosen.append(candidate)
        seen.append(terms)
        if len(chosen) == count:
            break
    text = "\n".join(f"{c.text} [{c.passage.number}]" for c in chosen)
    citations = [
        Citation(c.passage.number, c.text, "quoted", round(c.score, 4), c.text, c.passage)
        for c in chosen
    ]
    return text, citations


def _shared(a: dict[str, float], b: dict[str, float]) -> float:
    small = min(len(a), len(b))
    return len(a.keys() & b.keys()) / small if small else 1.0

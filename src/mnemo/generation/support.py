"""How well a passage supports a sentence: the score behind every citation verdict.

Two signals, each in [0, 1]:

- *lexical*: the share of the sentence's content words (stemmed, stop words
  out) found in the passage. Names and numbers weigh double: they carry the
  facts, and a passage that has the words of the question but another name or
  date does not support the claim (rgb-en-fact's counterfactual passages differ
  from the true ones in exactly that).
- *semantic*: the best cosine similarity between the sentence and one sentence
  of the passage, from the collection's embedder; it credits paraphrase.

The score is ``LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic``, or
the lexical share alone when no embedder is available. The weight and the
threshold (``answer.min_support``) were calibrated on rgb-en-fact by
``benchmarks/answers.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnemo.generation.sentences import split_sentences
from mnemo.retrieval.snippets import STOP, WORD, stem

if TYPE_CHECKING:
    import numpy as np

    from mnemo.embeddings import Embedder

LEXICAL_WEIGHT = 0.9
_FACT_WEIGHT = 2.0


def weighted_terms(text: str) -> dict[str, float]:
    """Content words of ``text``, stemmed, each with its weight (names and numbers 2)."""
    terms: dict[str, float] = {}
    for match in WORD.finditer(text):
        word = match.group()
        lower = word.lower()
        if lower in STOP or (len(lower) == 1 and not lower.isdigit()):
            continue
        fact = word[0].isupper() or any(ch.isdigit() for ch in word)
        key = stem(lower)
        terms[key] = max(terms.get(key, 0.0), _FACT_WEIGHT if fact else 1.0)
    return terms


def lexical_support(claim: str, passage: str) -> float:
    wanted = weighted_terms(claim)
    if not wanted:
        return 0.0
    present = {stem(w.lower()) for w in WORD.findall(passage)}
    return sum(w for t, w in wanted.items() if t in present) / sum(wanted.values())


@dataclass(frozen=True)
class Support:
    score: float
    lexical: float
    semantic: float | None
    quote: str  # the passage sentence closest to the claim


def support(
    claims: Sequence[str], passages: Sequence[str], embedder: Embedder | None = None
) -> list[Support]:
    """Score each ``claims[i]`` against ``passages[i]``."""
    results: list[Support] = []
    claim_vectors = embedder.embed_documents(list(claims)) if embedder and claims else None
    split: dict[str, list[str]] = {}
    vectors: dict[str, np.ndarray] = {}  # a passage cited by several claims is embedded once
    for i, (claim, passage) in enumerate(zip(claims, passages, strict=True)):
        lexical = lexical_support(claim, passage)
        if passage not in split:
            split[passage] = [s.text for s in split_sentences(passage)] or [passage]
        sentences = split[passage]
        if claim_vectors is not None and embedder is not None:
            if passage not in vectors:
                vectors[passage] = embedder.embed_documents(sentences)
            sims = vectors[passage] @ claim_vectors[i]
            best = int(sims.argmax())
            semantic: float | None = max(0.0, float(sims[best]))
            score = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic
        else:
            best = max(range(len(sentences)), key=lambda j: lexical_support(claim, sentences[j]))
            semantic, score = None, lexical
        results.append(Support(score, lexical, semantic, sentences[best]))
    return results

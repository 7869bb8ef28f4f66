"""Answers without a language model: the sentences of the passages that answer the question.

1. Each passage is read as plain text (:mod:`mnemo.generation.plaintext`:
   Markdown marks, wikilinks, code and tables gone) and split into sentences,
   paragraph by paragraph. Anything after a "References", "Bibliography" or
   "Contents" line is skipped, and so are sentences that cannot be quoted
   (:mod:`mnemo.generation.quotable`: headings, captions, reference entries,
   fragments).
2. A cheap score (the share of the question's content words a sentence has,
   whether it has the kind of value the question asks for, the passage's rank)
   keeps the best ``_POOL`` sentences, and a window of two sentences is added
   around the best ``_WINDOWS`` of them, for answers that span two.
3. The cross-encoder that reranks passages reads the question with each
   candidate (preceded by its document's title and section, as passages are)
   and scores it; a candidate that has the kind of value asked for (a date for
   "when", a number for "how many") gains ``_TYPE_BONUS``. Without a
   cross-encoder, the embedder's cosine, the shared words and the share of new
   words score them instead (the method before; docs/benchmarks.md).
4. The best are taken greedily, skipping any that overlaps or repeats one
   already taken. A sentence that opens by pointing back ("It was ...") is
   quoted with the sentence before it.
5. Citations are numbered 1..n in the order they appear in the answer, and the
   sources are renumbered to match (the uncited ones after them).

The count of candidates is bounded, and for the same question and passages
the scores, and so the answer, are always the same.
"""

from __future__ import annotations

import re
from collections.abc import KeysView, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mnemo.errors import MnemoError
from mnemo.generation.plaintext import blocks
from mnemo.generation.quotable import (
    answer_type,
    bare,
    furniture,
    has_type,
    needs_context,
    quotable,
    type_strength,
)
from mnemo.generation.sentences import split_sentences
from mnemo.generation.support import lexical_support, weighted_terms
from mnemo.generation.types import Citation
from mnemo.retrieval.context import ContextPassage

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.embeddings import Embedder
    from mnemo.retrieval.rerank import Reranker

# Sentences the cross-encoder reads, and how many of the best get a two-sentence window
# each side: 16 and 8 quote what 32 and 8 did on both answer sets, with 22-36 % fewer
# pairs to score (docs/benchmarks.md, "The quote check reads fewer sentences").
_POOL = 16
_WINDOWS = 8
_MAX_CHARS = 700
_TYPE_BONUS = 2.0  # in reranker logits, for a quote with the value asked for (docs/benchmarks.md)
_NEW_WORDS = 2.0  # in logits: weight of the share of a quote's words the question lacks
_MIN_SCORE = 2.0  # with the bonuses, in logits: quotes after the first need this much
_NOVELTY = 0.6  # without a cross-encoder: weight of the share of words the question lacks
_REPEAT = 0.7  # a candidate sharing this much of its content words with a chosen one repeats it
_BACK_MATTER = re.compile(
    r"^(?:\d+\.?\s*)?(?:references|bibliography|works cited|literature cited|"
    r"(?:table of )?contents)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Sentence:
    text: str
    block: int
    ok: bool  # quotable on its own
    part: bool  # may be quoted next to a quotable sentence of its paragraph


@dataclass(frozen=True)
class Candidate:
    text: str
    passage: ContextPassage
    first: int  # index of its first sentence in the passage
    last: int
    score: float


def passage_sentences(passage: ContextPassage) -> list[_Sentence]:
    """The sentences of ``passage`` as plain text, up to any back matter."""
    if any(_BACK_MATTER.match(h.strip()) for h in passage.heading_path):
        return []
    out: list[_Sentence] = []
    for number, block in enumerate(blocks(passage.text)):
        if _BACK_MATTER.match(block.text):
            break
        if block.kind == "heading":
            continue
        for index, sentence in enumerate(split_sentences(block.text)):
            text = bare(" ".join(sentence.text.split()))
            if index == 0 and block.lead and text[:1].islower():
                text = _with_lead(block.lead, text)  # a list item read with its lead-in
            term = any(text.startswith(code) for code in block.code)  # `mnemo sync` does ...
            out.append(_Sentence(text, number, quotable(text, term=term), not furniture(text)))
    return out


def _with_lead(lead: str, item: str) -> str:
    """``lead`` (ending with a colon) and a list item, as one sentence."""
    item = item.rstrip()
    for tail in ("; and", "; or", ", and", ", or", ";", ","):
        if item.endswith(tail):
            item = item[: -len(tail)].rstrip()
            break
    if not item.endswith((".", "!", "?")):
        item += "."
    return f"{lead} {item}"


def _label(passage: ContextPassage) -> str:
    return " > ".join(filter(None, [passage.title, *passage.heading_path]))


def _units(
    question: str, passages: Sequence[ContextPassage]
) -> list[tuple[str, ContextPassage, int, int]]:
    """Candidate quotes: the best sentences by a cheap score, and windows around the best."""
    kind = answer_type(question)
    ranks = {p.number: i for i, p in enumerate(sorted(passages, key=lambda p: p.number))}
    split = [(p, passage_sentences(p)) for p in passages]
    singles: list[tuple[float, int, int]] = []  # (cheap score, passage index, sentence index)
    for pi, (passage, sentences) in enumerate(split):
        prior = 1.0 - ranks[passage.number] / len(ranks)
        for si, s in enumerate(sentences):
            if s.ok:
                cheap = lexical_support(question, s.text) + 0.3 * has_type(s.text, kind)
                singles.append((cheap + 0.2 * prior, pi, si))
    singles.sort(key=lambda x: (-x[0], x[1], x[2]))
    units: dict[tuple[int, int, int], str] = {}

    def add(pi: int, first: int, last: int) -> None:
        sentences = split[pi][1]
        if first < 0 or last >= len(sentences):
            return
        window = sentences[first : last + 1]
        if any(s.block != window[0].block or not s.part for s in window):
            return
        text = " ".join(s.text for s in window)
        if len(text) <= _MAX_CHARS:
            units[(pi, first, last)] = text

    for rank, (_, pi, si) in enumerate(singles[:_POOL]):
        sentences = split[pi][1]
        if needs_context(sentences[si].text) and si > 0:
            add(pi, si - 1, si)
        else:
            add(pi, si, si)
        if rank < _WINDOWS:
            add(pi, si - 1, si)
            add(pi, si, si + 1)
    return [(text, split[pi][0], first, last) for (pi, first, last), text in units.items()]


def quote_reranker(settings: Settings, warnings: list[str]) -> Reranker | None:
    """The cross-encoder that scores quotes (when answers rerank), in batches of
    ``answer.quote_batch_size``; None, with a warning, when it cannot load."""
    if not settings.answer.rerank:
        return None
    from mnemo.retrieval.rerank import load_reranker

    search = settings.search.model_copy(
        update={"rerank_batch_size": settings.answer.quote_batch_size}
    )
    try:
        return load_reranker(settings.model_copy(update={"search": search}))
    except MnemoError as exc:
        warnings.append(f"quotes are chosen without the reranker: {exc}")
        return None


def candidates(
    question: str,
    passages: Sequence[ContextPassage],
    reranker: Reranker | None,
    embedder: Embedder | None,
) -> list[Candidate]:
    """The candidate quotes of ``passages``, best answer first."""
    units = _units(question, passages)
    if not units:
        return []
    kind = answer_type(question)
    if reranker is not None:
        texts = [f"{_label(p)}\n{text}" for text, p, _, _ in units]
        scores = [float(s) for s in reranker.score(question, texts)]
        asked = weighted_terms(question).keys()
        scores = [
            s + _TYPE_BONUS * type_strength(text, kind) + _NEW_WORDS * _novelty(text, asked)
            for s, (text, *_) in zip(scores, units, strict=True)
        ]
    else:
        scores = _similarity(question, [u[0] for u in units], passages, units, embedder)
    scored = [
        Candidate(text, p, first, last, score)
        for (text, p, first, last), score in zip(units, scores, strict=True)
    ]
    return sorted(scored, key=lambda c: (-c.score, c.passage.number, c.first, c.last))


def _similarity(
    question: str,
    texts: list[str],
    passages: Sequence[ContextPassage],
    units: list[tuple[str, ContextPassage, int, int]],
    embedder: Embedder | None,
) -> list[float]:
    """Without a cross-encoder: cosine, shared words, passage rank and new words."""
    semantic = [0.0] * len(texts)
    if embedder is not None:
        vectors = embedder.embed_documents(texts)
        semantic = [float(x) for x in vectors @ embedder.embed_query(question)]
    numbers = sorted({p.number for p in passages})
    asked = weighted_terms(question).keys()
    scores = []
    for text, (_, passage, _, _), cosine in zip(texts, units, semantic, strict=True):
        prior = 1.0 - numbers.index(passage.number) / len(numbers)
        score = (0.6 * cosine if embedder else 0.0) + 0.3 * lexical_support(question, text)
        scores.append(score + 0.1 * prior + _NOVELTY * _novelty(text, asked))
    return scores


def _novelty(text: str, asked: KeysView[str]) -> float:
    """The share of ``text``'s content words the question does not have: a sentence
    that only restates the question says nothing new."""
    terms = weighted_terms(text).keys()
    return len(terms - asked) / len(terms) if terms else 0.0


def choose(found: Sequence[Candidate], count: int) -> list[Candidate]:
    """Up to ``count`` of ``found`` (best first), none overlapping or repeating another."""
    chosen: list[Candidate] = []
    seen: list[dict[str, float]] = []
    for candidate in found:
        if any(
            c.passage.number == candidate.passage.number
            and c.first <= candidate.last
            and candidate.first <= c.last
            for c in chosen
        ):
            continue
        terms = weighted_terms(candidate.text)
        if any(_shared(terms, other) >= _REPEAT for other in seen):
            continue
        chosen.append(candidate)
        seen.append(terms)
        if len(chosen) == count:
            break
    return chosen


def cite(
    chosen: Sequence[Candidate], passages: Sequence[ContextPassage]
) -> tuple[str, list[Citation], list[ContextPassage]]:
    """The answer text, its citations and the sources, numbered 1..n in order of appearance."""
    order = list(dict.fromkeys(c.passage.number for c in chosen))
    order += [p.number for p in passages if p.number not in order]
    new = {old: i + 1 for i, old in enumerate(order)}
    by_number = {p.number: p for p in passages}
    sources = [replace(by_number[old], number=new[old]) for old in order]
    renumbered = {s.number: s for s in sources}
    lines, citations = [], []
    for c in chosen:
        number = new[c.passage.number]
        lines.append(f"{c.text} [{number}]")
        citations.append(
            Citation(number, c.text, "quoted", round(c.score, 4), c.text, renumbered[number])
        )
    return "\n".join(lines), citations, sources


def extract(
    question: str,
    passages: Sequence[ContextPassage],
    count: int,
    *,
    reranker: Reranker | None = None,
    embedder: Embedder | None = None,
    found: Sequence[Candidate] | None = None,
) -> tuple[str, list[Citation], list[ContextPassage]]:
    """Up to ``count`` quotes that answer ``question``, each cited, best first; the
    sources renumbered to match the citations. ``found``: the candidates, when they
    were scored already (best first)."""
    if found is None:
        found = candidates(question, passages, reranker, embedder)
    if reranker is not None and found:
        # the cross-encoder judged the rest unrelated: quote the best alone rather than them
        found = found[:1] + [c for c in found[1:] if c.score >= _MIN_SCORE]
    chosen = choose(found, count)
    return cite(chosen, passages)


def _shared(a: dict[str, float], b: dict[str, float]) -> float:
    small = min(len(a), len(b))
    return len(a.keys() & b.keys()) / small if small else 1.0

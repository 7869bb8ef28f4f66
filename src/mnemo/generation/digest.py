"""A whole document answered without a language model: representative sentences, in order.

"Summarise report.pdf" or "list every deadline in plan.md" has no single
answering passage. Offline, the answer is a handful of the document's own
sentences chosen to stand for all of it:

1. Every quotable sentence of every passage, in document order
   (:func:`mnemo.generation.extractive.passage_sentences`: no headings,
   captions, reference entries, contents lines or fragments; nothing after a
   "References" or "Contents" heading; no lines with e-mail addresses or links,
   which are front matter).
2. Each is embedded; its *centrality* is its cosine to the mean of all of them
   (what the document is mostly about), blended with its cosine to the question
   when the question asks for something in particular ("list every deadline"),
   plus a bonus when it has the kind of value asked for (dates for deadlines).
3. Maximal marginal relevance picks them one by one: the best score less
   ``_REDUNDANCY`` times the closest cosine to a sentence already picked, and
   less ``_SAME_SECTION`` for each pick already from its section, so that the
   picks spread across the document.
4. They are shown in the document's order, each cited, sources numbered 1..n.

Without an embedder the shared-words share stands in for the cosines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mnemo.generation.extractive import Candidate, cite, passage_sentences
from mnemo.generation.quotable import answer_type, type_strength
from mnemo.generation.support import lexical_support
from mnemo.generation.types import Citation
from mnemo.retrieval.context import ContextPassage

if TYPE_CHECKING:
    from mnemo.embeddings import Embedder

_MAX_SENTENCES = 2000  # embedded at most, from the start of the documents
_MAX_PICKS = 8
_REDUNDANCY = 0.6
_SAME_SECTION = 0.15
_TYPE_BONUS = 0.2
_FRONT_MATTER = re.compile(r"@|https?://|www\.|\b(?:arxiv:\d|doi:|copyright|©)", re.IGNORECASE)
_GENERIC = re.compile(
    r"\b(?:summar|overview|outline|main (?:points|ideas|contributions|findings)|key points|"
    r"contributions|gist|tl;?dr|about)\w*",
    re.IGNORECASE,
)


def _pool(passages: Sequence[ContextPassage]) -> list[tuple[str, ContextPassage, int]]:
    pool = []
    for passage in passages:
        for index, sentence in enumerate(passage_sentences(passage)):
            if sentence.ok and not _FRONT_MATTER.search(sentence.text):
                pool.append((sentence.text, passage, index))
                if len(pool) == _MAX_SENTENCES:
                    return pool
    return pool


def summarize(
    question: str,
    passages: Sequence[ContextPassage],
    embedder: Embedder | None,
    count: int,
) -> tuple[str, list[Citation], list[ContextPassage]]:
    """Up to ``count`` (at least one per section, at most ``_MAX_PICKS``) sentences that
    represent ``passages``, in document order, each cited."""
    pool = _pool(passages)
    if not pool:
        return "", [], list(passages)
    sections = {tuple(p.heading_path) for _, p, _ in pool}
    wanted = max(count, min(_MAX_PICKS, len(sections)))
    texts = [text for text, _, _ in pool]
    kind = answer_type(question)
    generic = bool(_GENERIC.search(question))
    if embedder is not None:
        import numpy as np

        vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        centre = vectors.mean(axis=0)
        centre /= float(np.linalg.norm(centre)) or 1.0
        central = vectors @ centre
        asked = vectors @ embedder.embed_query(question)
        score = central if generic else 0.5 * central + 0.5 * asked
        similar = vectors @ vectors.T
    else:
        joined = " ".join(texts)
        score = [lexical_support(t, joined) for t in texts]
        if not generic:
            score = [0.5 * s + 0.5 * lexical_support(question, t) for s, t in zip(score, texts)]
        similar = [[lexical_support(a, b) for b in texts] for a in texts]
    base = [float(s) + _TYPE_BONUS * type_strength(t, kind) for s, t in zip(score, texts)]
    picked: list[int] = []
    per_section: dict[tuple[str, ...], int] = {}
    while len(picked) < min(wanted, len(pool)):
        best, best_value = -1, float("-inf")
        for i, (_, passage, _) in enumerate(pool):
            if i in picked:
                continue
            redundancy = max((float(similar[i][j]) for j in picked), default=0.0)
            crowded = per_section.get(tuple(passage.heading_path), 0)
            value = base[i] - _REDUNDANCY * redundancy - _SAME_SECTION * crowded
            if value > best_value:
                best, best_value = i, value
        picked.append(best)
        key = tuple(pool[best][1].heading_path)
        per_section[key] = per_section.get(key, 0) + 1
    order = {p.number: n for n, p in enumerate(passages)}
    picked.sort(key=lambda i: (order[pool[i][1].number], pool[i][2]))
    chosen = [
        Candidate(pool[i][0], pool[i][1], pool[i][2], pool[i][2], round(base[i], 4)) for i in picked
    ]
    return cite(chosen, passages)

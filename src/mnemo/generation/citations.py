"""Citation markers in a generated answer, and their verification.

The model is asked to end each claim with ``[n]``. After generation every
marker is checked: one whose number names no source given is removed from the
text and reported; every sentence with a valid marker is scored against each
passage it cites (:mod:`mnemo.generation.support`) and marked supported or
unsupported. Nothing is ever marked supported without that check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mnemo.generation.sentences import split_sentences
from mnemo.generation.support import support
from mnemo.generation.types import Citation
from mnemo.retrieval.context import ContextPassage

if TYPE_CHECKING:
    from mnemo.embeddings import Embedder

# [1], [1, 2], [1; 3], [1-3] and also 【1】 as some models write it.
MARKER = re.compile(r"\s?[\[【]\s*(\d{1,3}(?:\s*(?:[,;]|-|–)\s*\d{1,3})*)\s*[\]】]")
_ONLY_MARKERS = re.compile(rf"^(?:{MARKER.pattern}|\s|[.,;:])+$")


def marker_numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body.strip()):
        if re.search(r"[-–]", part):
            low, high = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if 0 < high - low < 20:
                numbers += range(low, high + 1)
                continue
            numbers += [low, high]
        else:
            numbers.append(int(part))
    return numbers


def strip_invalid(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """``text`` with markers for numbers outside ``valid`` removed; the removed numbers."""
    removed: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = marker_numbers(match.group(1))
        good = [n for n in dict.fromkeys(numbers) if n in valid]
        removed.extend(n for n in numbers if n not in valid)
        lead = " " if match.group(0)[0].isspace() else ""
        return lead + "".join(f"[{n}]" for n in good) if good else ""

    return MARKER.sub(keep, text), removed


def claims(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence that carries markers, without them, with the numbers it cites.

    A run of markers that the splitter left as a sentence of its own (``... fact. [2]``)
    belongs to the sentence before it.
    """
    found: list[tuple[str, list[int]]] = []
    for sentence in split_sentences(text):
        numbers = [n for m in MARKER.finditer(sentence.text) for n in marker_numbers(m.group(1))]
        plain = " ".join(MARKER.sub("", sentence.text).split())
        if _ONLY_MARKERS.match(sentence.text) and found:
            previous, cited = found[-1]
            found[-1] = (previous, list(dict.fromkeys(cited + numbers)))
        elif numbers and plain:
            found.append((plain, list(dict.fromkeys(numbers))))
    return found


def verify(
    text: str,
    sources: Sequence[ContextPassage],
    embedder: Embedder | None,
    threshold: float,
) -> tuple[str, list[Citation]]:
    """The text with invalid markers removed, and a checked citation per (sentence, number)."""
    by_number = {s.number: s for s in sources}
    cleaned, removed = strip_invalid(text, set(by_number))
    citations: list[Citation] = []
    pairs: list[tuple[str, ContextPassage]] = []
    for sentence, numbers in claims(text):
        for number in numbers:
            if number in by_number:
                pairs.append((sentence, by_number[number]))
            else:
                citations.append(Citation(number, sentence, "invalid", None, None, None))
    scores = support([s for s, _ in pairs], [p.text for _, p in pairs], embedder)
    for (sentence, passage), found in zip(pairs, scores, strict=True):
        verdict = "supported" if found.score >= threshold else "unsupported"
        citations.append(
            Citation(passage.number, sentence, verdict, round(found.score, 4), found.quote, passage)
        )
    reported = {c.number for c in citations if c.verdict == "invalid"}
    # markers outside any claim (a reply that is only "[7]") are reported too
    citations += [
        Citation(n, "", "invalid", None, None, None) for n in removed if n not in reported
    ]
    return cleaned, citations

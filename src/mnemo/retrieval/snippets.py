"""Snippets: the part of a passage that best shows why it matched, with the
matched words marked (as character spans into the snippet)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

WORD = re.compile(r"\w+", re.UNICODE)
STOP = frozenset(
    "a an and are as at be but by for from has have how i in is it its of on or that the "
    "their there these this to was were what when where which who why will with you your".split()
)
_SUFFIXES = ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s")


# Every word of every hit is stemmed to find the matched ones: a search of 10
# hits stems about 1,500 words, mostly the same few thousand across searches.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    word = word.lower()
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def query_terms(query: str) -> set[str]:
    words = [w for w in WORD.findall(query.lower()) if w not in STOP]
    return {stem(w) for w in words}


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]  # [start, end) spans of matched words in ``text``


def make_snippet(text: str, terms: set[str], width: int = 300) -> Snippet:
    """The ``width``-character window of ``text`` with the most matched words."""
    matches = [m.span() for m in WORD.finditer(text) if stem(m.group()) in terms]
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        start = _best_window(matches, width, len(text))
        end = min(len(text), start + width)
        start, end = _word_bounds(text, start, end)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    body = text[start:end]
    shift = len(prefix) - start
    spans = [(s + shift, e + shift) for s, e in matches if s >= start and e <= end]
    return Snippet(prefix + body + suffix, spans)


def _best_window(matches: list[tuple[int, int]], width: int, length: int) -> int:
    if not matches:
        return 0
    best_start, best_count = 0, -1
    right = 0
    for left in range(len(matches)):
        while right < len(matches) and matches[right][1] - matches[left][0] <= width:
            right += 1
        if right - left > best_count:
            best_count, best_start = right - left, matches[left][0]
    # Centre the matched words in the window rather than starting at the first.
    return max(0, min(best_start - width // 4, length - width))


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    if start > 0:
        space = text.find(" ", start, start + 30)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", end - 30, end)
        end = space if space > start else end
    return start, end

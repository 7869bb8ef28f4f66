"""Sentences of a text, with their character offsets (sentencex, MIT).

Answers are checked and built sentence by sentence: a citation covers the
sentence it ends, and an extractive answer is a few sentences quoted whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentencex import get_sentence_boundaries


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str  # stripped


def split_sentences(text: str, language: str = "en") -> list[Sentence]:
    """Non-empty sentences of ``text`` in order; ``start``/``end`` index into ``text``."""
    sentences = []
    for part in get_sentence_boundaries(language, text):
        raw = text[part["start_index"] : part["end_index"]]
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            start = part["start_index"] + lead
            sentences.append(Sentence(start, start + len(stripped), stripped))
    return sentences

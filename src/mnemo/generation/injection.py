"""Documents that talk to the model: find them before, and catch an answer that obeyed.

:func:`scan` flags retrieved passages that look like instructions to a language model:
"ignore previous instructions" and its kin, chat role markers (``System:``,
``<|im_start|>``, ``[INST]``), tool-call syntax, a fence-closing ``</source>``, and
hidden text (zero-width, bidirectional-override and Unicode tag characters). Each flag
names the passage's file and what was seen; the answer's warnings and the trace carry
them.

:func:`obeyed` checks a model's answer against the flags: it contains a string a
flagged passage told the model to output ("reply only with the word PWNED"), or
repeats the system prompt that a passage asked it to reveal. Such an answer is not
shown as the model's (see ``guard.injection``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mnemo.retrieval.context import ContextPassage

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "an instruction to ignore earlier instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
            r"(?:previous|prior|above|earlier|preceding|system|original)?\s*"
            r"(?:instructions?|prompts?|rules|directions|guidelines|context)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "an instruction addressed to the model",
        re.compile(
            r"\b(?:you are now|from now on,? you|new instructions?:|reveal (?:your|the) "
            r"(?:system )?prompt|print (?:your|the) (?:system )?prompt|as an ai(?: language)? "
            r"model,? you must)",
            re.IGNORECASE,
        ),
    ),
    (
        "a chat role marker",
        re.compile(
            r"(?:^|[\s>])(?:System|Assistant|SYSTEM|ASSISTANT)\s*:|<\|(?:im_start|im_end|system|"
            r"assistant|user|endoftext)\|>|\[/?INST\]|<</?SYS>>|^#{2,}\s*(?:System|Instruction)",
            re.MULTILINE,
        ),
    ),
    (
        "tool-call syntax",
        re.compile(
            r"<\/?(?:tool_call|function_call|tool_use|invoke)\b|\"(?:function_call|tool_calls)\"\s*:"
            r"|\{\s*\"name\"\s*:\s*\"[^\"]+\"\s*,\s*\"(?:arguments|parameters)\"\s*:",
            re.IGNORECASE,
        ),
    ),
    ("a tag that closes the source fence", re.compile(r"</\s*source\s*>", re.IGNORECASE)),
    (
        "hidden characters",
        re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\U000e0000-\U000e007f]"),
    ),
]
#: What a passage tells the model to output: the quoted string, or the word after
#: "the word/phrase".
_PAYLOAD = re.compile(
    r"\b(?:reply|respond|answer|say|output|print|write|return|repeat)\s+(?:only\s+)?"
    r"(?:with\s+)?(?:only\s+)?(?:the\s+(?:word|phrase|string|text|sentence)s?\s*:?\s*)?"
    r"(?:[\"“'«]([^\"”'»\n]{3,80})[\"”'»]|(?<=word )([A-Za-z0-9_-]{3,40})"
    r"|(?<=word: )([A-Za-z0-9_-]{3,40}))",
    re.IGNORECASE,
)
_SHINGLE = 8  # words in a row shared with the system prompt that count as repeating it


@dataclass(frozen=True)
class Flag:
    number: int  # the source's number in the prompt
    path: str
    what: str  # what was seen, e.g. "a chat role marker"
    excerpt: str  # the text that matched, shortened, hidden characters shown as \\uXXXX
    payloads: tuple[str, ...] = ()  # strings the passage told the model to output

    def describe(self) -> str:
        return f"source [{self.number}] {self.path} contains {self.what} ({self.excerpt})"


def scan(passages: Sequence[ContextPassage]) -> list[Flag]:
    """Flags for the passages that read as instructions to a model, one per kind seen."""
    flags: list[Flag] = []
    for passage in passages:
        payloads = tuple(next(g for g in m.groups() if g) for m in _PAYLOAD.finditer(passage.text))
        for what, pattern in _PATTERNS:
            match = pattern.search(passage.text)
            if match is None:
                continue
            flags.append(Flag(passage.number, passage.path, what, _excerpt(match), payloads))
    return flags


def obeyed(answer: str, flags: Sequence[Flag], question: str, system_prompt: str) -> str | None:
    """Why ``answer`` looks like it followed a flagged passage, or None."""
    if not flags:
        return None
    lowered, asked = answer.lower(), question.lower()
    for flag in flags:
        for payload in flag.payloads:
            said = payload.lower().strip()
            if said and said not in asked and re.search(rf"\b{re.escape(said)}\b", lowered):
                return f"it says {payload!r}, as source [{flag.number}] {flag.path} instructed"
    if _shares_words(answer, system_prompt):
        return "it repeats Mnemo's system prompt, which a source asked the model to reveal"
    return None


def defang(passages: Sequence[ContextPassage], flags: Sequence[Flag]) -> list[ContextPassage]:
    """The passages without the sentences that carry instructions, and without hidden
    characters: what an extractive answer may quote."""
    from dataclasses import replace

    flagged = {f.number for f in flags}
    kept = []
    for passage in passages:
        if passage.number not in flagged:
            kept.append(passage)
            continue
        text = _PATTERNS[-1][1].sub("", passage.text)
        sentences = re.split(r"(?<=[.!?])\s+", text)
        clean = [
            s
            for s in sentences
            if not _PAYLOAD.search(s) and not any(p.search(s) for _, p in _PATTERNS[:-1])
        ]
        kept.append(replace(passage, text=" ".join(clean)))
    return kept


def _excerpt(match: re.Match[str]) -> str:
    text = match.group(0).strip()
    shown = "".join(
        c if c.isprintable() and c.isascii() or c.isalpha() else f"\\u{ord(c):04x}" for c in text
    )
    return f"“{shown[:60]}”"


def _shares_words(answer: str, prompt: str) -> bool:
    words = re.findall(r"\w+", prompt.lower())
    said = " ".join(re.findall(r"\w+", answer.lower()))
    shingles = {" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}
    return any(s in said for s in shingles)

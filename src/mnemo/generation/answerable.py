"""Whether the passages answer the question, judged on the sentences that would be quoted.

The reranker's passage score tells a passage on the question's topic from one
off it; a passage on the same topic that lacks the answer (the 2010 and 2018
finals, for "Who won the 2014 final?") scores as high. Before an extractive
answer quotes anything, the best ``_LOOK`` (8) candidate quotes
(:func:`mnemo.generation.extractive.candidates`, best first) are read, and one
of them must:

- score at least ``answer.min_quote_score`` (the cross-encoder's logit with the
  quote bonuses, as the quotes are ranked);
- come from a passage (with its title and sections) that has every number of
  the question ("2014", "iPhone 11") and at least half of its names
  (capitalised words after the first, quoted phrases);
- have the kind of value asked for: a date, a time or a number for "when", a
  number for "how many", a name for "who".

Otherwise Mnemo abstains and shows the nearest passages. Measured and
calibrated on rgb-en-fact's same-topic negatives (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnemo.generation.quotable import answer_type, has_type

if TYPE_CHECKING:
    from mnemo.generation.extractive import Candidate

_LOOK = 8  # candidate quotes read, best first (docs/benchmarks.md)
_NAME_SHARE = 0.5  # of the question's names the passage must have
_WORD = re.compile(r"[\w'’.-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")
_COMMON = (
    "who whom whose what when where which why how is are was were do does did can could "
    "would should will shall may might tell please give list name show find explain "
    "describe the a an in on at of for to and or i my me you your it its this that these "
    "those there if"
)
_NOT_NAMES = frozenset(_COMMON.split())  # capitalised, but not names
_ASKS_WHO = re.compile(
    r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|people|company|team|player|"
    r"band|singer|actor|actress|author|artist|director)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Constraints:
    """What a passage must hold to answer the question."""

    numbers: frozenset[str]
    names: frozenset[str]  # lower case
    kind: str | None  # date, number, name, or None


def constraints(question: str) -> Constraints:
    """The question's numbers and names, and the kind of value it asks for."""
    numbers = frozenset(_NUMBER.findall(question))
    names = {(a or b).casefold().strip() for a, b in _QUOTED.findall(question)}
    for index, word in enumerate(_WORD.findall(question)):
        bare = re.sub(r"['’]s$", "", word.strip(".'’-"))
        if index == 0 or not bare or any(ch.isdigit() for ch in bare):
            continue
        if bare[0].isupper() and bare.casefold() not in _NOT_NAMES:
            names.add(bare.casefold())
    kind: str | None = answer_type(question)
    if kind is None and _ASKS_WHO.search(question):
        kind = "name"
    return Constraints(numbers, frozenset(names), kind)


def holds_constraints(text: str, wanted: Constraints) -> bool:
    """Whether ``text`` has every number of the question and enough of its names."""
    for number in wanted.numbers:
        if not re.search(rf"(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d)", text):
            return False
    if not wanted.names:
        return True
    lowered = text.casefold()
    return sum(name in lowered for name in wanted.names) >= _NAME_SHARE * len(wanted.names)


def has_kind(text: str, question: str, kind: str | None) -> bool:
    """Whether ``text`` has the kind of value asked for (always, when none is)."""
    if kind is None:
        return True
    if kind == "name":
        asked = {w.casefold() for w in _WORD.findall(question)}
        return any(
            m.group(0).casefold().strip(".'’-") not in asked | _NOT_NAMES
            for m in _CAPITALISED.finditer(text)
            if m.start() > 0
        )
    if kind == "date":  # "when" is also answered by a time or a number ("at 02:00", "in week 3")
        return has_type(text, "date") or bool(_DIGIT.search(text))
    return has_type(text, kind)  # type: ignore[arg-type]


def answering(
    question: str, found: Sequence[Candidate], min_score: float
) -> tuple[Candidate | None, str]:
    """The first of the best candidates that answers ``question``, or None and why not."""
    wanted = constraints(question)
    why = ""
    for candidate in found[:_LOOK]:
        passage = candidate.passage
        context = "\n".join(filter(None, [passage.title, *passage.heading_path, passage.text]))
        if candidate.score < min_score:
            why = why or (
                f"the best quote's score {candidate.score:.2f} is under "
                f"answer.min_quote_score {min_score:.2f}"
            )
            break  # best first: the rest score lower still
        if not holds_constraints(context, wanted):
            why = why or "no passage of the best quotes has the question's " + _describe(wanted)
            continue
        if not has_kind(candidate.text, question, wanted.kind):
            why = why or f"no quote that fits has the {wanted.kind} asked for"
            continue
        return candidate, ""
    return None, why or "no sentence of the passages fits"


def _describe(wanted: Constraints) -> str:
    parts = [*sorted(wanted.numbers), *sorted(wanted.names)]
    return "terms (" + ", ".join(parts) + ")"

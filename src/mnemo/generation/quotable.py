"""Which sentences can be quoted as an answer, and what a question asks for.

A quoted sentence must read as prose on its own. Dropped: headings (short, no
closing punctuation), figure and table captions, reference-list entries,
table-of-contents lines, fragments the splitter cut out of a sentence (they
start in lower case or on punctuation) and formulas (mostly not letters). A
line that opens with a term and says what it is or does is not a fragment,
though it starts in lower case: a definition-list line of a manual
("doubleblind To hide author names ...", "letters – used for papers ...",
"\\and If there is more than one author ...", "elsarticle.cls is built upon
...") or a sentence opening with inline code ("`mnemo sync` looks at ...",
which the caller knows: ``term=True``); :func:`opens_with_term`. A
sentence that opens by pointing back ("It", "This model", "However,") is
readable only with the one before it: :func:`needs_context`.

:func:`answer_type` reads what kind of answer a question wants (a date for
"when", a number for "how many"), and :func:`has_type` whether a sentence has
one; extractive answers prefer sentences that do.
"""

from __future__ import annotations

import re
from typing import Literal

AnswerType = Literal["date", "number"]

_MIN_CHARS = 25
_MAX_CHARS = 600
_MIN_WORDS = 5
_CAPTION = re.compile(
    r"^(?:fig(?:ure)?|table|tab|algorithm|listing|chart|plate)\.?\s*\d+[a-z]?\s*[.:|]",
    re.IGNORECASE,
)
_REF_START = re.compile(r"^(?:\[\d{1,3}\]|\d{1,3}\.\s+[A-Z][a-z'-]+,\s*[A-Z]\.)")
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)[a-z]?\b")
_INITIALS = re.compile(r"\b[A-Z]\.\s*(?:[A-Z]\.\s*)?(?:[A-Z][a-z]|,|and\b)")
_REF_WORDS = re.compile(
    r"\b(?:arxiv|preprint|proceedings|proc\.|conference|journal|transactions|workshop|"
    r"vol\.|pp\.|doi|isbn|url|https?://|in advances in|association for computational)\b",
    re.IGNORECASE,
)
_NAME_LIST = re.compile(r"(?:[A-Z][a-z]+(?:\s[A-Z]\.)?\s[A-Z][a-z'-]+,\s*(?:and\s+)?){2,}")
_TOC = re.compile(r"(?:\.\s*){4,}\s*\d+\s*$|(?:\s\.){3,}|\.{4,}")
_BACK_REFERENCE = re.compile(
    r"^(?:it|its|this|that|these|those|they|their|them|he|she|his|her|such|there|here|"
    r"however|moreover|furthermore|also|thus|therefore|hence|then|instead|in addition|"
    r"in contrast|similarly|likewise|as a result|for example|for instance|finally|"
    r"the (?:former|latter|same)|both|each|the (?:model|method|approach|system|project|paper|"
    r"team|result|results|company|study))\b",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|{_MONTH}\.?\s+\d{{1,2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}|{_MONTH}\.?,?\s+\d{{4}}|"
    r"(?:1[5-9]|20)\d\d|(?:mon|tues|wednes|thurs|fri|satur|sun)day|yesterday|today|tomorrow)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "dozen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "billion",
    "trillion",
    "half",
]
_NUMBER = re.compile(rf"\d|\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_ASKS_DATE = re.compile(
    r"^\s*when\b|\b(?:what|which)\s+(?:year|date|day|month|time)\b|\bwhat\s+is\s+the\s+"
    r"(?:\S+\s+){0,3}date\b|\b(?:date|deadline|go-live|release date)\b",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|long|old|far|big|large|tall|high|fast|often)\b|"
    r"\b(?:what|which)\s+(?:is\s+the\s+)?(?:number|amount|percentage|price|cost|size|"
    r"sizes|score|rate|count|total)\b|\bhow\s+.*\bparameters\b|\b(?:model\s+)?sizes\b",
    re.IGNORECASE,
)


def answer_type(question: str) -> AnswerType | None:
    """The kind of value ``question`` asks for, when it is a date or a number."""
    if _ASKS_DATE.search(question):
        return "date"
    if _ASKS_NUMBER.search(question):
        return "number"
    return None


def has_type(text: str, kind: AnswerType | None) -> bool:
    if kind == "date":
        return bool(_DATE.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    return False


_FULL_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|"
    rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}})\b",
    re.IGNORECASE,
)


def type_strength(text: str, kind: AnswerType | None) -> float:
    """How fully ``text`` has the value asked for: 1 for a number or a whole date (day,
    month and year), 0.5 for part of a date, 0 for none."""
    if kind == "date" and _FULL_DATE.search(text):
        return 1.0
    return 0.5 if kind == "date" and has_type(text, kind) else float(has_type(text, kind))


def is_reference(text: str) -> bool:
    """A bibliography entry: "[12] A. Smith, B. Jones. Title. In Proceedings of ..., 2019"."""
    signals = (
        bool(_REF_START.match(text))
        + bool(_YEAR.search(text))
        + (len(_INITIALS.findall(text)) >= 2)
        + bool(_REF_WORDS.search(text))
        + bool(_NAME_LIST.search(text))
        + ("et al" in text and not re.search(r"et al\.?,?\s*(?:\(\d{4}\)\s*)?[a-z]", text))
    )
    return signals >= 3 or (bool(_REF_START.match(text)) and signals >= 2)


def is_heading_like(text: str) -> bool:
    """A title or section line: short, no closing punctuation."""
    words = text.split()
    return len(words) <= 12 and not text.rstrip().endswith((".", "!", "?", ":", ";", '"', "”"))


def furniture(text: str) -> bool:
    """A caption, a reference entry or a table-of-contents line: never part of a quote."""
    return bool(_CAPTION.match(text) or _TOC.search(text) or is_reference(text))


_BULLET = re.compile(r"^(?:[•◦▪▫‣∙●○■□➢►▶✓✔]|[-–—*+](?=\s))\s*")
# a LaTeX command, its arguments, then prose: "\\and If ...", "\\received{...} Insert ..."
_COMMAND = re.compile(r"^\\[A-Za-z@]{2,}\*?(?:\{[^{}]*\}|\[[^\]]*\])*\s+[A-Z]")
_CODE_TERM = re.compile(r"^[a-z][\w@]+(?:[._\\][\w@]+)+|^[a-z]+\d")  # geometry.sty, revtex4
# a term, then its definition: a capital, a bracket, or a dash, bullet or colon after it
_DEFINED = re.compile(r"^([a-z][a-z0-9]*)(?:\s*[:–—•]\s+\S|\s+[A-Z(\[])")
_FUNCTION_WORDS = frozenset(
    "a about after all also although an and any are as at be because been before being "
    "between both but by can could did do does each either for from had has have he her "
    "here his how however if in into is it its may might more most must no nor not of on "
    "onto or our over per see she should since so some such than that the their them then "
    "there these they this those though thus to under unless until via was we were what "
    "when where whether which while who whom whose why will with would yet you your".split()
)


def bare(text: str) -> str:
    """``text`` without a leading list bullet ("• ", "– ") a PDF's text keeps."""
    return _BULLET.sub("", text, count=1)


def opens_with_term(text: str) -> bool:
    """Whether ``text``, starting in lower case or on a backslash, opens with a term that
    the rest defines: a LaTeX command, a file or code name, or a word that is not a
    function word followed by a capital, a bracket, a dash or a colon. A sentence cut
    out of a longer one opens with an ordinary word ("and the model", "trained on")."""
    if text.count("\\") * 4 > len(text.split()):
        return False  # code: a command every few words
    if _COMMAND.match(text) or _CODE_TERM.match(text):
        return True
    found = _DEFINED.match(text)
    if not found:
        return False
    word = found.group(1)
    return word not in _FUNCTION_WORDS and not word.endswith(("ed", "ing", "ly"))


def quotable(text: str, *, term: bool = False) -> bool:
    """Whether the plain-text sentence ``text`` can stand as a quoted answer. ``term``: the
    caller knows that it opens with a term (inline code)."""
    if not _MIN_CHARS <= len(text) <= _MAX_CHARS or len(text.split()) < _MIN_WORDS:
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < len(text) / 2:
        return False
    first = text.lstrip("\"'“‘(")[:1]
    fragment = not first or first.islower() or not first.isalnum()
    if fragment and not (term or opens_with_term(text)):
        return False  # a fragment: the splitter cut it out of a longer sentence
    return not (
        is_heading_like(text) or _CAPTION.match(text) or _TOC.search(text) or is_reference(text)
    )


def needs_context(text: str) -> bool:
    """Whether ``text`` opens by pointing back to what came before it."""
    return bool(_BACK_REFERENCE.match(text))

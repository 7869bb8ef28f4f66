"""The rule-based planner: split a compound question into parts, and pick each part's tool.

Used with no model, and as the model's starting point. It splits:

- "compare A and B", "A vs B", "the difference between A and B": one part per
  subject, the rest of the question carried into each; answered as a table;
- several questions in one ("Who won X, and when did Y happen?", "X? Y?",
  "1. X 2. Y"): at a question mark, a semicolon, or a comma or "and" that
  opens a new question (who, what, when, ... is, did, ...);
- lists asked about together ("Who acquired Instagram, WhatsApp and Oculus?"):
  one part per item.

Per part it picks filters from the words (``#tag``, "in folder X", "last
week", "since 2024-03-01"), keyword search first for quoted phrases and codes,
and whole-document reading when a part names a file of the collection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

_WH = (
    r"who|whom|whose|what|when|where|which|why|how|is|are|was|were|did|does|do|can|could|"
    r"should|has|have|had|in what|in which|on what"
)
_SPLIT = re.compile(
    rf"(?:\?\s+|;\s+|\s*\n+\s*|,\s*(?:and\s+|but\s+|also\s+|plus\s+)?(?=(?:{_WH})\b)"
    rf"|\s+(?:and|as well as|and also|plus)\s+(?=(?:{_WH})\b))",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"(?:^|\s)\(?\d{1,2}[.)]\s+")
_COMPARE = [
    re.compile(
        r"^\s*(?:compare|contrast)\s+(?P<a>.+?)\s+(?:and|with|to|versus|vs\.?)\s+(?P<b>.+?)"
        r"(?P<rest>\s+(?:on|in|regarding|about|for|by)\s+.+?)?\s*[?.]?\s*$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\s*(?:what is |what's |what are )?(?:the )?differences? between\s+(?P<a>.+?)"
        r"\s+and\s+(?P<b>.+?)(?P<rest>\s+(?:on|in|regarding|about|for)\s+.+?)?\s*[?.]?\s*$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\s*(?P<a>[^,?]+?)\s+(?:vs\.?|versus)\s+(?P<b>[^,?]+?)"
        r"(?P<rest>\s*[:,-]\s*.+?)?\s*[?.]?\s*$",
        re.IGNORECASE,
    ),
]
_LIST = re.compile(
    rf"^(?P<head>(?:{_WH})\b.*?\b(?:of|about|for|did|does|do|acquired|bought|won|founded|"
    r"wrote|said|say)\s+)(?P<items>[^,?]+(?:,\s*[^,?]+)+,?\s+(?:and|or)\s+[^,?]+?)\s*\?*\s*$",
    re.IGNORECASE,
)
_TAG = re.compile(r"(?<![\w&])#([A-Za-z][\w/-]*)")
_FOLDER = re.compile(
    r"\bin (?:my |the )?(?:folder|directory)\s+[\"']?([\w./-]+)[\"']?", re.IGNORECASE
)
_SINCE = re.compile(r"\bsince (\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")
_CODE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Z0-9][A-Za-z0-9]*-[A-Za-z0-9-]+\b"
)
_FILE = re.compile(r"\b[\w.-]+\.(?:md|txt|pdf|docx|html?|pptx|xlsx|csv|py|eml)\b", re.IGNORECASE)
_RELATIVE = {
    "today": 0,
    "yesterday": 1,
    "last week": 7,
    "this week": 7,
    "last month": 31,
    "this month": 31,
    "last year": 366,
}


@dataclass
class Part:
    question: str
    tool: str = "search"  # the first tool: search, keyword_search, read_document
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    parts: list[Part]
    comparison: bool = False
    subjects: list[str] = field(default_factory=list)  # what a comparison compares
    why: str = "one search"


def split(question: str, limit: int = 6) -> tuple[list[str], bool, list[str]]:
    """The parts of ``question``; whether it is a comparison; the subjects compared."""
    text = " ".join(question.split()) if "\n" not in question else question.strip()
    for pattern in _COMPARE:
        match = pattern.match(text)
        if match:
            a, b = _strip(match.group("a")), _strip(match.group("b"))
            rest = (match.group("rest") or "").strip(" :,-")
            if a and b:
                return [f"{s} {rest}".strip() for s in (a, b)], True, [a, b]
    if len(_NUMBERED.findall(text)) >= 2:
        pieces = [p for p in _NUMBERED.split(text) if p.strip()]
        if len(pieces) >= 2:
            return _finish(pieces, limit), False, []
    pieces = [p for p in _SPLIT.split(text) if p and p.strip(" ,;?")]
    if len(pieces) >= 2:
        return _finish(pieces, limit), False, []
    listed = _LIST.match(text)
    if listed:
        items = re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", listed.group("items"))
        items = [i.strip() for i in items if i.strip()]
        if 2 <= len(items) <= limit:
            head = listed.group("head")
            return [f"{head}{i}?" for i in items], False, []
    return [text], False, []


def _strip(text: str) -> str:
    return text.strip(" ,.;:?").removeprefix("the ").strip()


def _finish(pieces: list[str], limit: int) -> list[str]:
    out = []
    for piece in pieces:
        piece = piece.strip(" ,;")
        if not piece:
            continue
        piece = piece[0].upper() + piece[1:]
        if not piece.endswith(("?", ".")):
            piece += "?"
        out.append(piece)
    if len(out) > limit:  # keep the first limit - 1, the rest as one
        out = out[: limit - 1] + [" ".join(out[limit - 1 :])]
    return out


def filters_in(text: str, today: date | None = None) -> dict[str, Any]:
    """Search filters the words of ``text`` ask for: tags, a folder, a date range."""
    args: dict[str, Any] = {}
    tags = _TAG.findall(text)
    if tags:
        args["tags"] = tags
    folder = _FOLDER.search(text)
    if folder:
        args["path"] = [f"*{folder.group(1).strip('/')}/*"]
    since = _SINCE.search(text)
    lowered = text.lower()
    if since:
        args["after"] = since.group(1)
    else:
        for phrase, days in _RELATIVE.items():
            if re.search(rf"\b(?:added|changed|written|modified|from|in)?\s*{phrase}\b", lowered):
                args["after"] = ((today or date.today()) - timedelta(days=days)).isoformat()
                break
    return args


def _clean_query(text: str) -> str:
    text = _TAG.sub(" ", text)
    text = _FOLDER.sub(" ", text)
    text = _SINCE.sub(" ", text)
    return " ".join(text.split()) or text


def plan(question: str, *, documents: set[str] | None = None, limit: int = 6) -> Plan:
    """The rule-based plan for ``question``; ``documents``: the collection's file names
    (lower case), so that a part naming one reads it whole."""
    texts, comparison, subjects = split(question, limit)
    parts = []
    for text in texts:
        args = filters_in(text)
        named = [m.group(0) for m in _FILE.finditer(text)]
        known = [n for n in named if documents is not None and n.lower() in documents]
        quoted = _QUOTED.findall(text) + _CODE.findall(text)
        if known:
            parts.append(Part(text, "read_document", {"document": known[0]}))
        elif quoted and not args:
            parts.append(Part(text, "keyword_search", {"query": " ".join(quoted)}))
        else:
            parts.append(Part(text, "search", {"query": _clean_query(text), **args}))
    why = (
        f"comparison of {len(subjects)} subjects"
        if comparison
        else (f"{len(parts)} parts" if len(parts) > 1 else "one search")
    )
    return Plan(parts, comparison, subjects, why)

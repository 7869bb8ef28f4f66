"""Milvus boolean expressions: string literals, lists, and the translation of
the SQL predicate :meth:`mnemo.retrieval.filters.Filters.where` writes."""

from __future__ import annotations

import re
from collections.abc import Sequence


def _milvus_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def milvus_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_milvus_string(v) for v in values) + "]"


# -- filters: the SQL predicate Filters.where() writes, as a Milvus expression ----------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op>>=|<=|<>|!=|=|<|>|\(|\)|\[|\]|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_WORDS = {"and": "and", "or": "or", "not": "not", "like": "like", "in": "in"}
_FIELDS = {"path", "media_type", "mtime", "tags", "document_id", "id"}


def milvus_filter(where: str | None, *, like_escapes: bool = True) -> str:
    """The Milvus boolean expression for a filter predicate (``""`` for none).

    It reads the SQL subset :meth:`mnemo.retrieval.filters.Filters.where`
    writes: ``=``, ``<``, ``>=``, ``LIKE … ESCAPE '\\'``, ``array_has_any``,
    ``AND``, ``OR`` and parentheses; anything else is a ValueError, never a
    filter silently dropped.

    Without ``like_escapes`` (Milvus Lite, whose LIKE has no escape character) an
    escaped ``%`` or ``_`` in a pattern becomes ``_``, any one character: the
    index then returns a few more rows, and search drops them when it checks
    the filters again on the catalog's rows.
    """
    if not where:
        return ""
    out: list[str] = []
    pos = 0
    skip_escape = False
    while pos < len(where):
        match = _TOKEN.match(where, pos)
        if match is None or match.end() == pos:
            if where[pos:].strip() == "":
                break
            raise ValueError(f"filter not understood at {where[pos : pos + 30]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)  # type: ignore[arg-type]
        if skip_escape:  # the literal after ESCAPE: Milvus's escape is always '\'
            if kind != "string" or value != "'\\'":
                raise ValueError(f"filter: unsupported ESCAPE {value!r}")
            skip_escape = False
            continue
        if kind == "string":
            literal = value[1:-1].replace("''", "'")
            if not like_escapes and out and out[-1] == "like":
                literal = re.sub(r"\\[%_\\]", "_", literal)
            out.append(_milvus_string(literal))
        elif kind == "number":
            out.append(value)
        elif kind == "op":
            out.append({"=": "==", "<>": "!="}.get(value, value))
        else:
            lowered = value.lower()
            if lowered == "escape":
                skip_escape = True
            elif lowered == "array_has_any":
                out.append("ARRAY_CONTAINS_ANY")
            elif lowered in _WORDS:
                out.append(_WORDS[lowered])
            elif value in _FIELDS:
                out.append(value)
            else:
                raise ValueError(f"filter: unknown name {value!r}")
    return " ".join(out)

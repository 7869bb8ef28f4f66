"""Whole-document tasks: "summarise this file", "list every deadline in this PDF",
"compare these two documents".

They are answered over every chunk of the named documents, not over the top
passages of a search. A document's chunks are joined section by section into
numbered passages. With a language model, passages that fit the budget go into
one prompt; otherwise each budget-sized batch is turned into cited notes (map)
and the notes into one answer (reduce), the source numbers kept throughout so
the final citations are checked against the passages themselves. Without one,
the answer is extractive over all the passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from mnemo.catalog import Chunk, Collection, Document
from mnemo.config import Settings
from mnemo.errors import QueryError
from mnemo.retrieval.context import ContextPassage, make_passage

_TASK = re.compile(
    r"\b(summari[sz]e|summary|overview|outline|list (all|every|each)|every|compare|comparison|"
    r"differences?|whole|entire|all the)\b",
    re.IGNORECASE,
)


def resolve(settings: Settings, collection: Collection, names: Sequence[str]) -> list[Document]:
    """The indexed documents ``names`` refer to: a path, a path's tail, or a file name."""
    docs = _indexed(settings, collection)
    found: list[Document] = []
    for name in names:
        matches = _matching(docs, name)
        if not matches:
            raise QueryError(
                f"--doc {name}: no indexed document of {collection.name!r} matches; "
                "`mnemo docs list` shows them"
            )
        if len(matches) > 1:
            shown = ", ".join(d.path for d in matches[:3])
            raise QueryError(
                f"--doc {name}: matches {len(matches)} documents ({shown}); be more specific"
            )
        if matches[0] not in found:
            found.append(matches[0])
    return found


def _matching(docs: Sequence[Document], name: str) -> list[Document]:
    absolute = str(Path(name).expanduser().resolve()) if name else ""
    exact = [d for d in docs if d.path == absolute]
    if exact:
        return exact
    tail = name.replace("\\", "/").lstrip("./")
    return [d for d in docs if d.path.endswith("/" + tail) or d.path == tail]


def detect(settings: Settings, collection: Collection, question: str) -> list[Document]:
    """Documents a question asks about as a whole ("summarise report.pdf"), else none."""
    if not _TASK.search(question):
        return []
    lowered = question.lower()
    return [d for d in _indexed(settings, collection) if Path(d.path).name.lower() in lowered]


def _indexed(settings: Settings, collection: Collection) -> list[Document]:
    from mnemo.api import open_catalog

    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        return list(
            session.scalars(
                select(Document).where(
                    Document.collection_id == collection.id, Document.status == "indexed"
                )
            )
        )


def passages(
    settings: Settings, documents: Sequence[Document], max_tokens: int
) -> list[ContextPassage]:
    """All of ``documents``, section by section, as numbered passages of at most
    ``max_tokens`` each (a single chunk larger than that stays whole)."""
    from mnemo.api import open_catalog

    out: list[ContextPassage] = []
    with open_catalog(settings) as catalog, catalog.session(readonly=True) as session:
        for doc in documents:
            chunks = list(
                session.scalars(
                    select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.ordinal)
                )
            )
            group: list[Chunk] = []
            for chunk in chunks:
                same = group and list(group[-1].heading_path or []) == list(
                    chunk.heading_path or []
                )
                size = sum(c.token_count for c in group) + chunk.token_count
                if group and (not same or size > max_tokens):
                    out.append(make_passage(len(out) + 1, group, doc, 0.0))
                    group = []
                group.append(chunk)
            if group:
                out.append(make_passage(len(out) + 1, group, doc, 0.0))
    return out


def batches(items: Sequence[ContextPassage], max_tokens: int) -> list[list[ContextPassage]]:
    """Consecutive passages in groups that fit ``max_tokens`` (one at least)."""
    out: list[list[ContextPassage]] = []
    size = 0
    for item in items:
        if out and size + item.tokens <= max_tokens:
            out[-1].append(item)
            size += item.tokens
        else:
            out.append([item])
            size = item.tokens
    return out

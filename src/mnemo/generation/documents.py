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

from mnemo.catalog import Catalog, Chunk, Collection, Document
from mnemo.catalog.documents import indexed_documents, resolve_document
from mnemo.errors import DocumentError, QueryError
from mnemo.retrieval.context import ContextPassage, make_passage

_TASK = re.compile(
    r"\b(summari[sz]e|summary|overview|outline|list (all|every|each)|every|compare|comparison|"
    r"differences?|whole|entire|all the)\b",
    re.IGNORECASE,
)


def resolve(catalog: Catalog, collection: Collection, names: Sequence[str]) -> list[Document]:
    """The indexed documents ``names`` refer to: a path, a path's tail, or a file name."""
    with catalog.session(readonly=True) as session:
        docs = indexed_documents(session, collection)
    found: list[Document] = []
    for name in names:
        try:
            document = resolve_document(docs, name, collection.name, "indexed document")
        except DocumentError as exc:
            raise QueryError(f"--doc {name}: {exc}; `mnemo docs list` shows them") from exc
        if document not in found:
            found.append(document)
    return found


def detect(catalog: Catalog, collection: Collection, question: str) -> list[Document]:
    """Documents a question asks about as a whole ("summarise report.pdf"), else none."""
    if not _TASK.search(question):
        return []
    lowered = question.lower()
    with catalog.session(readonly=True) as session:
        docs = indexed_documents(session, collection)
    return [d for d in docs if Path(d.path).name.lower() in lowered]


def passages(
    catalog: Catalog, documents: Sequence[Document], max_tokens: int
) -> list[ContextPassage]:
    """All of ``documents``, section by section, as numbered passages of at most
    ``max_tokens`` each (a single chunk larger than that stays whole)."""
    out: list[ContextPassage] = []
    with catalog.session(readonly=True) as session:
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

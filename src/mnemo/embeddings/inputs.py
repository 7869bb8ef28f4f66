"""The text an embedder (and the keyword index) sees for a chunk.

A passage alone often lacks its subject ("It was founded in 1887."), so the
document's title and the chunk's heading path go in front of it, as BEIR's
dense baselines do with titles. The same string is indexed for BM25.
"""

from __future__ import annotations

from collections.abc import Sequence

from mnemo.chunking.chunker import text_hash


def embedding_input(title: str | None, heading_path: Sequence[str], text: str) -> str:
    context: list[str] = []
    for part in (title, *heading_path):
        part = (part or "").strip()
        if part and part not in context:
            context.append(part)
    return f"{' > '.join(context)}\n{text}" if context else text


def embed_hash(title: str | None, heading_path: Sequence[str], text: str) -> str:
    return text_hash(embedding_input(title, heading_path, text))

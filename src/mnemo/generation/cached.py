"""Answering through the answer cache (:mod:`mnemo.generation.answer_cache`).

A question is looked up only when it stands alone: not a follow-up in a
conversation with earlier turns, nor one sent with a client's history. A hit is
the stored answer with ``cached_at`` set (and recorded in the conversation, when
there is one); a miss is answered by :func:`mnemo.generation.ask.ask` and kept,
unless the model failed on the way (that answer is a fallback, not the answer),
or the index changed while it was being made.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mnemo.catalog import Catalog
from mnemo.catalog.collections import get_collection
from mnemo.config import Settings
from mnemo.generation import conversations, followup
from mnemo.generation.answer_cache import AnswerCache, embedder_for, index_version, scope_of
from mnemo.generation.ask import TextHandler, ask
from mnemo.generation.base import LLM
from mnemo.generation.types import Answer
from mnemo.retrieval.filters import Filters

_FAILED = "the language model failed"


def answer(
    question: str,
    settings: Settings,
    catalog: Catalog,
    llm: LLM | None,
    cache: AnswerCache | None,
    *,
    collection: str | None = None,
    documents: Sequence[str] = (),
    filters: Filters | None = None,
    mode: str | None = None,
    conversation_id: str | None = None,
    history: followup.History = (),
    on_text: TextHandler | None = None,
) -> Answer:
    """:func:`~mnemo.generation.ask.ask`, from the cache when it may be."""

    def fresh() -> Answer:
        return ask(
            question,
            settings,
            catalog,
            llm,
            collection=collection,
            documents=documents,
            filters=filters,
            mode=mode,
            conversation_id=conversation_id,
            history=history,
            on_text=on_text,
        )

    if cache is None or not settings.cache.enabled or history or not question.strip():
        return fresh()
    if conversation_id and conversations.history(catalog, conversation_id):
        return fresh()  # a follow-up: its meaning depends on the turns before it
    started = time.perf_counter()
    name = collection or settings.collection
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, name)
    version = index_version(settings, catalog, coll)
    scope = scope_of(
        settings,
        version,
        collection=name,
        model=f"{llm.provider}:{llm.model}" if llm is not None else None,
        filters=filters,
        mode=mode,
        documents=documents,
    )
    embedder = embedder_for(settings, catalog, coll) if settings.cache.semantic else None
    found = cache.lookup(
        scope,
        question,
        embed=embedder.embed_query if embedder is not None else None,
        max_distance=settings.cache.max_distance,
    )
    if found.answer is not None:
        hit = found.answer
        hit.question = " ".join(question.split())
        hit.warnings = [*hit.warnings, f"answered from the cache ({found.how} match)"]
        elapsed = time.perf_counter() - started
        made_in = hit.seconds.get("total", 0.0)
        hit.seconds = {"cache": elapsed, "total": elapsed, "saved": max(0.0, made_in - elapsed)}
        if conversation_id:
            hit.turn = conversations.record(catalog, conversation_id, hit)
            hit.conversation_id = conversation_id
        return hit
    made = fresh()
    failed = any(w.startswith(_FAILED) for w in made.warnings)
    # An answer that could not be checked (or may obey a planted instruction) is not kept.
    if (
        not failed
        and made.kind != "unverified"
        and index_version(settings, catalog, coll) == version
    ):
        cache.store(
            name,
            version,
            scope,
            made,
            vector=found.vector,
            max_entries=settings.cache.max_entries,
        )
    return made

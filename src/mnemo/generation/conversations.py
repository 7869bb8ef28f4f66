"""Conversations kept in the catalog: start, continue, list, show, delete, and feedback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from mnemo.catalog import Catalog, Collection
from mnemo.catalog.collections import get_collection
from mnemo.catalog.models import Conversation, Feedback, Turn, utcnow
from mnemo.errors import ConversationError
from mnemo.generation.types import Answer
from mnemo.retrieval.context import ContextPassage


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    collection: str
    title: str
    turns: int
    created_at: datetime
    updated_at: datetime


def start(catalog: Catalog, collection: str, title: str) -> str:
    """A new, empty conversation in a collection; returns its id."""
    with catalog.session() as session:
        coll = get_collection(session, collection)
        conversation = Conversation(id=uuid.uuid4().hex, collection_id=coll.id, title=title[:200])
        session.add(conversation)
        return conversation.id


def history(catalog: Catalog, conversation_id: str) -> list[Turn]:
    """The turns of a conversation in order; ConversationError if there is none by that id."""
    with catalog.session(readonly=True) as session:
        _get(session, conversation_id)
        return list(
            session.scalars(
                select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.position)
            )
        )


_SNIPPET = 600  # characters of each source kept with a turn


def source_record(passage: ContextPassage) -> dict[str, Any]:
    """What a turn keeps of a source: enough to list it and open it at its passage."""
    return {
        "number": passage.number,
        "document_id": passage.document_id,
        "chunk_id": passage.chunk_ids[0] if passage.chunk_ids else None,
        "path": passage.path,
        "title": passage.title,
        "page": passage.page_start,
        "page_end": passage.page_end,
        "heading_path": list(passage.heading_path),
        "text": passage.text[:_SNIPPET],
    }


def record(catalog: Catalog, conversation_id: str, answer: Answer) -> int:
    """Keep ``answer`` as the conversation's next turn; returns its position."""
    cited = []
    for c in answer.citations:
        source = c.source
        cited.append(
            {
                "number": c.number,
                "verdict": c.verdict,
                "path": c.path,
                "page": c.page,
                "quote": c.quote,
                "document_id": source.document_id if source else None,
                "chunk_id": source.chunk_ids[0] if source and source.chunk_ids else None,
            }
        )
    with catalog.session() as session:
        conversation = _get(session, conversation_id)
        count = session.scalar(
            select(func.count()).select_from(Turn).where(Turn.conversation_id == conversation_id)
        )
        session.add(
            Turn(
                conversation_id=conversation_id,
                position=count or 0,
                question=answer.question,
                query=answer.query,
                answer=answer.text,
                kind=answer.kind,
                citations=cited,
                sources=[source_record(p) for p in answer.sources],
            )
        )
        conversation.updated_at = utcnow()
        return count or 0


def rename(catalog: Catalog, conversation_id: str, title: str) -> None:
    """Give a conversation a new title (1 to 200 characters)."""
    title = " ".join(title.split())[:200]
    if not title:
        raise ConversationError("a conversation's title cannot be empty")
    with catalog.session() as session:
        _get(session, conversation_id).title = title


def info(catalog: Catalog, conversation_id: str) -> ConversationInfo:
    """One conversation's title, collection and size."""
    with catalog.session(readonly=True) as session:
        found = _get(session, conversation_id)
        turns = session.scalar(
            select(func.count()).select_from(Turn).where(Turn.conversation_id == conversation_id)
        )
        name = session.scalar(select(Collection.name).where(Collection.id == found.collection_id))
        return ConversationInfo(
            found.id, name or "", found.title, turns or 0, found.created_at, found.updated_at
        )


#: The channels whose answers outside a chat are kept in a log conversation each
#: (:func:`mnemo.generation.feedback.log_answer`), so that they can be judged.
LOG_CHANNELS = ("the CLI", "the REST API", "/v1", "MCP")


def log_id(coll: Collection, channel: str) -> str:
    """The id of ``coll``'s log conversation of answers given through ``channel``."""
    made = coll.created_at.isoformat() if coll.created_at else ""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mnemo:{coll.id}:{made}:{channel}").hex


def list_conversations(catalog: Catalog, collection: str) -> list[ConversationInfo]:
    """A collection's conversations, most recently used first; the logs of answers given
    outside a chat (:data:`LOG_CHANNELS`) are not conversations a reader started, and are
    left out (their answers stay judgeable by message id)."""
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, collection)
        counts = dict(
            session.execute(
                select(Turn.conversation_id, func.count()).group_by(Turn.conversation_id)
            ).all()
        )
        logs = [log_id(coll, channel) for channel in LOG_CHANNELS]
        rows = session.scalars(
            select(Conversation)
            .where(Conversation.collection_id == coll.id, Conversation.id.not_in(logs))
            .order_by(Conversation.updated_at.desc())
        )
        return [
            ConversationInfo(
                c.id, coll.name, c.title, counts.get(c.id, 0), c.created_at, c.updated_at
            )
            for c in rows
        ]


def delete_conversation(catalog: Catalog, conversation_id: str) -> None:
    with catalog.session() as session:
        _get(session, conversation_id)
        session.execute(delete(Turn).where(Turn.conversation_id == conversation_id))
        session.execute(delete(Conversation).where(Conversation.id == conversation_id))


@dataclass(frozen=True)
class FeedbackInfo:
    id: int
    conversation_id: str
    position: int
    thumbs: str | None
    rating: int | None
    correction: str | None
    created_at: datetime


def add_feedback(
    catalog: Catalog,
    conversation_id: str,
    position: int,
    *,
    thumbs: str | None = None,
    rating: int | None = None,
    correction: str | None = None,
    key_id: int | None = None,
) -> FeedbackInfo:
    """Store a reader's judgement of the answer at ``position`` (0-based) of a conversation."""
    with catalog.session() as session:
        _get(session, conversation_id)
        turns = session.scalar(
            select(func.count()).select_from(Turn).where(Turn.conversation_id == conversation_id)
        )
        if not 0 <= position < (turns or 0):
            raise ConversationError(
                f"conversation {conversation_id!r} has no answer {position} "
                f"(it has {turns or 0}, numbered from 0)"
            )
        row = Feedback(
            conversation_id=conversation_id,
            position=position,
            thumbs=thumbs,
            rating=rating,
            correction=correction,
            key_id=key_id,
        )
        session.add(row)
        session.flush()
        return FeedbackInfo(
            row.id, conversation_id, position, thumbs, rating, correction, row.created_at
        )


def feedback(catalog: Catalog, conversation_id: str) -> dict[int, FeedbackInfo]:
    """The latest judgement of each answer of a conversation, by position."""
    with catalog.session(readonly=True) as session:
        rows = session.scalars(
            select(Feedback)
            .where(Feedback.conversation_id == conversation_id)
            .order_by(Feedback.id)
        )
        return {
            r.position: FeedbackInfo(
                r.id, r.conversation_id, r.position, r.thumbs, r.rating, r.correction, r.created_at
            )
            for r in rows
        }


def _get(session: object, conversation_id: str) -> Conversation:
    found = session.get(Conversation, conversation_id)  # type: ignore[attr-defined]
    if found is None:
        raise ConversationError(
            f"no conversation {conversation_id!r}: `mnemo conversations list` shows the ids"
        )
    return found

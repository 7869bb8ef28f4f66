"""Conversations kept in the catalog: start, continue, list, show, delete, and feedback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from mnemo.catalog.models import Conversation, Feedback, Turn, utcnow
from mnemo.catalog import Catalog
from mnemo.catalog.collections import get_collection
from mnemo.errors import ConversationError
from mnemo.generation.types import Answer


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


def record(catalog: Catalog, conversation_id: str, answer: Answer) -> None:
    cited = [
        {
            "number": c.number,
            "verdict": c.verdict,
            "path": c.path,
            "page": c.page,
        }
        for c in answer.citations
    ]
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
            )
        )
        conversation.updated_at = utcnow()


def list_conversations(catalog: Catalog, collection: str) -> list[ConversationInfo]:
    """A collection's conversations, most recently used first."""
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, collection)
        counts = dict(
            session.execute(
                select(Turn.conversation_id, func.count()).group_by(Turn.conversation_id)
            ).all()
        )
        rows = session.scalars(
            select(Conversation)
            .where(Conversation.collection_id == coll.id)
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


def _get(session: object, conversation_id: str) -> Conversation:
    found = session.get(Conversation, conversation_id)  # type: ignore[attr-defined]
    if found is None:
        raise ConversationError(
            f"no conversation {conversation_id!r}: `mnemo conversations list` shows the ids"
        )
    return found

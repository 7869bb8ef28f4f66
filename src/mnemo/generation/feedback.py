"""Feedback that changes something: message ids, the answer log, corrections as notes.

Every answer a reader can judge is a turn of a conversation. Answers given
outside one (the OpenAI-compatible API, MCP) are kept as turns of one log
conversation per collection and channel ("Answers through /v1"), so that each
has a *message id*, ``<conversation id>-<position>``, to judge it by.

A judgement is thumbs (up/down), a rating (1-5) and/or a correction. A
correction can be kept as a Markdown note in the collection
(``<home>/notes/<collection>/correction-*.md``, then indexed), so the next
answer can cite it; and every judged-bad answer is a case of ``mnemo eval``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from mnemo.catalog import Catalog, Collection
from mnemo.catalog.collections import get_collection
from mnemo.catalog.models import Conversation, Feedback, Turn
from mnemo.config import Settings
from mnemo.errors import ConversationError
from mnemo.generation import conversations
from mnemo.generation.types import Answer

_MESSAGE = re.compile(r"^([0-9a-f]{32})-(\d{1,9})$")


@dataclass(frozen=True)
class FeedbackEntry:
    """A judgement with the question and answer it judges."""

    id: int
    message_id: str
    collection: str
    conversation_id: str
    position: int
    question: str
    answer: str
    kind: str
    thumbs: str | None
    rating: int | None
    correction: str | None
    created_at: datetime

    @property
    def bad(self) -> bool:
        """Judged wrong: thumbs down, a rating of 1 or 2, or corrected."""
        return (
            self.thumbs == "down"
            or (self.rating is not None and self.rating <= 2)
            or bool(self.correction)
        )


def message_id(conversation_id: str, position: int) -> str:
    return f"{conversation_id}-{position}"


def parse_message_id(value: str) -> tuple[str, int]:
    """(conversation id, position) of a message id; ConversationError when malformed."""
    bare = value.strip().removeprefix("chatcmpl-")
    found = _MESSAGE.match(bare)
    if found is None:
        raise ConversationError(
            f"{value!r} is not a message id: use the id an answer came with "
            "(<conversation id>-<position>, e.g. from `mnemo feedback list`)"
        )
    return found.group(1), int(found.group(2))


def log_answer(catalog: Catalog, collection: str, channel: str, answer: Answer) -> str:
    """Keep ``answer`` as the next turn of the collection's log of ``channel`` answers;
    sets its conversation and turn and returns its message id."""
    with catalog.session() as session:
        coll = get_collection(session, collection)
        if channel not in conversations.LOG_CHANNELS:
            raise ValueError(f"unknown answer channel {channel!r}: add it to LOG_CHANNELS")
        conversation_id = conversations.log_id(coll, channel)
        if session.get(Conversation, conversation_id) is None:
            session.add(
                Conversation(
                    id=conversation_id, collection_id=coll.id, title=f"Answers through {channel}"
                )
            )
    answer.turn = conversations.record(catalog, conversation_id, answer)
    answer.conversation_id = conversation_id
    return message_id(conversation_id, answer.turn)


def entries(catalog: Catalog, collection: str | None = None) -> list[FeedbackEntry]:
    """Every judgement (of one collection, or all), oldest first, with what it judges."""
    with catalog.session(readonly=True) as session:
        query = (
            select(Feedback, Turn, Collection.name)
            .join(
                Turn,
                (Turn.conversation_id == Feedback.conversation_id)
                & (Turn.position == Feedback.position),
            )
            .join(Conversation, Conversation.id == Feedback.conversation_id)
            .join(Collection, Collection.id == Conversation.collection_id)
            .order_by(Feedback.id)
        )
        if collection is not None:
            query = query.where(Collection.id == get_collection(session, collection).id)
        return [
            FeedbackEntry(
                id=f.id,
                message_id=message_id(f.conversation_id, f.position),
                collection=name,
                conversation_id=f.conversation_id,
                position=f.position,
                question=t.question,
                answer=t.answer,
                kind=t.kind,
                thumbs=f.thumbs,
                rating=f.rating,
                correction=f.correction,
                created_at=f.created_at,
            )
            for f, t, name in session.execute(query).all()
        ]


def write_correction(settings: Settings, collection: str, question: str, correction: str) -> Path:
    """The correction as a Markdown note under ``<home>/notes/<collection>/``, titled by
    the question it answers; the same correction twice is one file."""
    from mnemo.config.private import FILE_MODE, private_dir

    title = f"Correction: {' '.join(question.split())}"[:200]
    front = yaml.safe_dump({"title": title, "tags": ["correction"]}, allow_unicode=True)
    body = f"---\n{front}---\n\n# {title}\n\n{correction.strip()}\n"
    private_dir(settings.home / "notes")
    folder = private_dir(settings.home / "notes" / collection)
    stem = "correction-" + _slug(question)
    n = 1
    while True:
        path = folder / (f"{stem}.md" if n == 1 else f"{stem}-{n}.md")
        try:
            created = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            if path.read_text(encoding="utf-8") == body:
                return path
            n += 1
            continue
        with open(created, "w", encoding="utf-8") as handle:
            handle.write(body)
        return path


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+", plain))[:60].strip("-") or "answer"


def turn_of(catalog: Catalog, conversation_id: str, position: int) -> Turn:
    """One turn; ConversationError when the conversation has no such answer."""
    turns = conversations.history(catalog, conversation_id)
    if not 0 <= position < len(turns):
        raise ConversationError(
            f"conversation {conversation_id!r} has no answer {position} "
            f"(it has {len(turns)}, numbered from 0)"
        )
    return turns[position]

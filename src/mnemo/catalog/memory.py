"""Long-term memory: facts and preferences a user stated, kept in the catalog.

Each memory belongs to one collection and one API key (``key_id`` None: the local
user, the CLI and the Python API), and is only ever read back in that scope:
nothing leaks across collections or keys. Each remembers where it was said
(``cli``, ``api``, ``research``, ``conversation:<id>``) and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Index, Integer, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mnemo.catalog.models import Base, Collection, utcnow
from mnemo.errors import MemoryNotFoundError, QueryError

MAX_CHARS = 1000


class Memory(Base):
    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_scope", "collection_id", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    text: Mapped[str] = mapped_column(Text)
    said_in: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class MemoryInfo:
    id: int
    collection: str
    text: str
    said_in: str
    created_at: datetime
    updated_at: datetime


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _info(row: Memory, collection: str) -> MemoryInfo:
    return MemoryInfo(
        row.id, collection, row.text, row.said_in, _aware(row.created_at), _aware(row.updated_at)
    )


def _clean(text: str) -> str:
    flat = " ".join(text.split())
    if not flat:
        raise QueryError("memory: empty text; say what to remember, e.g. 'Ana is my manager'")
    if len(flat) > MAX_CHARS:
        raise QueryError(f"memory: {len(flat):,} characters, more than {MAX_CHARS:,}; shorten it")
    return flat


def add_memory(
    session: Session, coll: Collection, text: str, *, key_id: int | None, said_in: str
) -> MemoryInfo:
    """Remember ``text`` (the same text twice is kept once, its date refreshed)."""
    flat = _clean(text)
    row = session.scalar(
        select(Memory).where(Memory.collection_id == coll.id, _key(key_id), Memory.text == flat)
    )
    if row is None:
        row = Memory(collection_id=coll.id, key_id=key_id, text=flat, said_in=said_in)
        session.add(row)
    else:
        row.updated_at = utcnow()
    session.flush()
    return _info(row, coll.name)


def list_memories(session: Session, coll: Collection, *, key_id: int | None) -> list[MemoryInfo]:
    rows = session.scalars(
        select(Memory).where(Memory.collection_id == coll.id, _key(key_id)).order_by(Memory.id)
    )
    return [_info(r, coll.name) for r in rows]


def edit_memory(
    session: Session, coll: Collection, memory_id: int, text: str, *, key_id: int | None
) -> MemoryInfo:
    row = _get(session, coll, memory_id, key_id)
    row.text = _clean(text)
    row.updated_at = utcnow()
    return _info(row, coll.name)


def forget_memory(
    session: Session, coll: Collection, memory_id: int, *, key_id: int | None
) -> MemoryInfo:
    row = _get(session, coll, memory_id, key_id)
    info = _info(row, coll.name)
    session.delete(row)
    return info


def _get(session: Session, coll: Collection, memory_id: int, key_id: int | None) -> Memory:
    row = session.get(Memory, memory_id) if 0 < memory_id < 2**63 else None
    if row is None or row.collection_id != coll.id or row.key_id != key_id:
        raise MemoryNotFoundError(
            f"no memory {memory_id} in collection {coll.name!r}; `mnemo memory list` shows them"
        )
    return row


def _key(key_id: int | None):  # type: ignore[no-untyped-def]
    return Memory.key_id.is_(None) if key_id is None else Memory.key_id == key_id

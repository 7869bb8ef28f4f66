"""Catalog tables. Portable SQLAlchemy types only: SQLite today, Postgres later."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    LargeBinary,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Source(Base):
    """A path the user added, with the globs that choose files below it."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("collection_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    include: Mapped[list[str]] = mapped_column(default=list)
    exclude: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)


class Document(Base):
    """One file, in exactly one state: indexed, skipped or failed."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "path"),
        Index("ix_documents_hash", "collection_id", "content_hash"),
        Index("ix_documents_status", "collection_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), default=None
    )
    path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    media_type: Mapped[str | None] = mapped_column(String(128), default=None)
    title: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    parser: Mapped[str | None] = mapped_column(String(32), default=None)
    pipeline_key: Mapped[str | None] = mapped_column(String(32), default=None)
    page_count: Mapped[int | None] = mapped_column(Integer, default=None)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chunk(Base):
    """A token-bounded passage of one document, with what a citation needs."""

    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_document", "document_id", "ordinal"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(32))
    heading_path: Mapped[list[str]] = mapped_column(default=list)
    page_start: Mapped[int | None] = mapped_column(Integer, default=None)
    page_end: Mapped[int | None] = mapped_column(Integer, default=None)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    #: Hash of the text the embedder sees (title, headings and passage).
    embed_hash: Mapped[str | None] = mapped_column(String(32), default=None, index=True)


class CollectionEmbedder(Base):
    """An embedder a collection uses: the ``active`` one serves queries, a
    ``building`` one is being filled in to replace it."""

    __tablename__ = "collection_embedders"
    __table_args__ = (UniqueConstraint("collection_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    dimension: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # how to build it again; no secrets
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Embedding(Base):
    """One vector, shared by every chunk whose embedding input hashes the same."""

    __tablename__ = "embeddings"

    embedder_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    embed_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class IndexPending(Base):
    """Documents whose rows in the search index must be rewritten (an outbox).

    Written in the same transaction as the catalog change, removed once the
    index holds the change, so a crash in between is healed by the next run.
    """

    __tablename__ = "index_pending"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(String(32), index=True)


class Run(Base):
    """One add/sync/watch pass over a collection, with its totals."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class RunFile(Base):
    """What a run did to one path (unchanged files are only counted)."""

    __tablename__ = "run_files"
    __table_args__ = (Index("ix_run_files_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class Conversation(Base):
    """A chat: questions and answers in order, resumable by id."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_updated", "collection_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """One question of a conversation and the answer given, with its citations."""

    __tablename__ = "conversation_turns"
    __table_args__ = (Index("ix_turns_conversation", "conversation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)  # what was searched (the standalone rewrite)
    answer: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    # [{number, verdict, path, page, document_id, chunk_id}]; older turns lack the ids
    citations: Mapped[list[str]] = mapped_column(default=list)
    # the passages shown with the answer (an abstention's nearest ones):
    # [{number, document_id, chunk_id, path, title, page, heading_path, text}]
    sources: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A server API key: only the SHA-256 of its secret is kept, and a prefix to recognise it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))  # read, write or admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One write or admin action done through the server: who, what, on what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_name: Mapped[str | None] = mapped_column(String(64), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A background ingestion job of the server, kept so that a restart requeues it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    paths: Mapped[list[str]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed, cancelled
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a server started it
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The process that claimed it last (kept when it ends): which server to look at.
    runner_host: Mapped[str | None] = mapped_column(String(255), default=None)
    runner_pid: Mapped[int | None] = mapped_column(Integer, default=None)


class Feedback(Base):
    """A reader's judgement of one answer of a conversation."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_conversation", "conversation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the turn judged
    thumbs: Mapped[str | None] = mapped_column(String(4), default=None)  # up or down
    rating: Mapped[int | None] = mapped_column(Integer, default=None)  # 1-5
    correction: Mapped[str | None] = mapped_column(Text, default=None)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def document_time(meta: dict[str, Any] | None, mtime_ns: int) -> float:
    """Seconds since the epoch that date filters compare: the date a document carries
    (``meta["date"]``: a photo's EXIF date taken, a message's Date header), else the
    file's modification time. A date without a time zone is local time."""
    date = (meta or {}).get("date")
    if isinstance(date, str):
        try:
            return datetime.fromisoformat(date).timestamp()
        except ValueError:
            pass
    return mtime_ns / 1e9


class Edge(Base):
    """One connection from a document: a link, an embed, a tag, a citation or a
    semantic neighbour. ``target_id`` is None for a link to a missing note (its
    ``target`` names what was asked for) and for a tag (``target`` is the tag)."""

    __tablename__ = "edges"
    __table_args__ = (
        Index("ix_edges_source", "source_id"),
        Index("ix_edges_target", "target_id"),
        Index("ix_edges_name", "collection_id", "kind", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    target_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(16))  # link, embed, tag, citation, semantic
    origin: Mapped[str] = mapped_column(String(16))  # wikilink, markdown, front-matter, ...
    target: Mapped[str] = mapped_column(Text)  # the name as written (lower-cased key)
    anchor: Mapped[str | None] = mapped_column(Text, default=None)  # heading or ^block
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class Digest(Base):
    """A digest worked out on a schedule by `mnemo serve` (kept, never sent anywhere)."""

    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_created", "collection_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    since: Mapped[datetime] = mapped_column()
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

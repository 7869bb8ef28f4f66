"""Collections and the sources (paths) a user added to them: every query about them."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mnemo.catalog.models import Collection, Document, Source
from mnemo.config.settings import validate_collection_name
from mnemo.errors import CollectionError


def get_collection(session: Session, name: str, create: bool = False) -> Collection:
    collection = session.scalar(select(Collection).where(Collection.name == name))
    if collection is not None:
        return collection
    if not create:
        known = ", ".join(session.scalars(select(Collection.name).order_by(Collection.name)))
        hint = f"known: {known}" if known else "none yet: add files with `mnemo add PATH`"
        raise CollectionError(f"no collection named {name!r} ({hint})")
    try:
        validate_collection_name(name)
    except ValueError as exc:
        raise CollectionError(str(exc)) from exc
    collection = Collection(name=name)
    try:
        # On PostgreSQL another process may create it at the same moment (SQLite's
        # writers are serialised): then theirs is the one.
        with session.begin_nested():
            session.add(collection)
    except IntegrityError:
        return session.scalars(select(Collection).where(Collection.name == name)).one()
    return collection


def normalise_path(path: Path | str) -> str:
    """Absolute and tidied, but symlinks kept: the path the user sees."""
    return os.path.abspath(os.path.expanduser(path))


def upsert_source(
    session: Session,
    collection: Collection,
    path: str,
    include: list[str],
    exclude: list[str],
) -> Source:
    source = session.scalar(
        select(Source).where(Source.collection_id == collection.id, Source.path == path)
    )
    if source is None:
        source = Source(collection_id=collection.id, path=path, include=include, exclude=exclude)
        session.add(source)
    elif include or exclude:
        source.include, source.exclude = include, exclude
    session.flush()
    return source


def list_sources(session: Session, collection: Collection) -> list[Source]:
    return list(
        session.scalars(
            select(Source).where(Source.collection_id == collection.id).order_by(Source.path)
        )
    )


def source_document_counts(session: Session, collection: Collection) -> dict[int, int]:
    rows = session.execute(
        select(Document.source_id, func.count())
        .where(Document.collection_id == collection.id)
        .group_by(Document.source_id)
    )
    return {source_id: count for source_id, count in rows if source_id is not None}

"""Insights and transfer over REST: the digest, topics, and a whole collection as an
archive (download; upload into a new collection)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from mnemo.errors import CollectionError
from mnemo.server import audit
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES, ApiError
from mnemo.server.queries import CollectionPath
from mnemo.transfer.archive import ArchiveError

router = APIRouter(tags=["insights"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
#: The archive upload route; it gets server.max_upload_mb (limits.BodyLimit).
ARCHIVE_PATH = "/collections/{collection}/archive"
_SPAN = {"h": "hours", "d": "days", "w": "weeks"}


class DocRefOut(BaseModel):
    document_id: str
    path: str
    title: str | None


class ConnectsOut(BaseModel):
    document: DocRefOut
    how: str


class ChangeOut(BaseModel):
    document: DocRefOut
    new: bool
    when: datetime
    connects_to: list[ConnectsOut]


class TopicChangesOut(BaseModel):
    topic: str
    changes: list[ChangeOut]


class MissingOut(BaseModel):
    document: DocRefOut
    missing: list[str]


class DuplicateOut(BaseModel):
    first: DocRefOut
    second: DocRefOut
    similarity: float


class DigestOut(BaseModel):
    collection: str
    since: datetime
    changed: int
    groups: list[TopicChangesOut]
    missing: list[MissingOut]
    duplicates: list[DuplicateOut]
    orphans: list[DocRefOut]


class TopicSummary(BaseModel):
    id: int
    label: str
    named_by: str
    keywords: list[str]
    size: int


class TopicOut(TopicSummary):
    documents: list[DocRefOut]


class ImportOut(BaseModel):
    collection: str
    tables: dict[str, int]


def since_time(text: str) -> datetime:
    """``7d``, ``12h``, ``2w`` before now, or an ISO date or time."""
    text = text.strip()
    if len(text) >= 2 and text[:-1].isdigit() and text[-1] in _SPAN:
        amount = int(text[:-1])
        if amount > 100_000:
            raise ApiError(400, "bad_since", f"since: {text!r} reaches too far back")
        return datetime.now(UTC) - timedelta(**{_SPAN[text[-1]]: amount})
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "bad_since", f"since: {text[:40]!r} is not a span like 7d, 12h or 2w, nor a date"
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _ref(doc) -> DocRefOut:  # type: ignore[no-untyped-def]
    return DocRefOut(document_id=doc.document_id, path=doc.path, title=doc.title)


@router.get("/collections/{collection}/digest", response_model=DigestOut)
def digest(
    request: Request,
    collection: CollectionPath,
    _: Reader,
    since: Annotated[str, Query(max_length=40, description="7d, 12h, 2w or a date")] = "7d",
) -> DigestOut:
    """What was added or changed since then, by topic, with the older notes each connects
    to; notes that link to missing notes; near-duplicates; orphans."""
    found = request.app.state.library.digest(since_time(since), collection=collection)
    return DigestOut(
        collection=found.collection,
        since=found.since,
        changed=found.changed,
        groups=[
            TopicChangesOut(
                topic=g.topic,
                changes=[
                    ChangeOut(
                        document=_ref(c.document),
                        new=c.new,
                        when=c.when,
                        connects_to=[
                            ConnectsOut(document=_ref(d), how=h) for d, h in c.connects_to
                        ],
                    )
                    for c in g.changes
                ],
            )
            for g in found.groups
        ],
        missing=[MissingOut(document=_ref(m.document), missing=m.missing) for m in found.missing],
        duplicates=[
            DuplicateOut(first=_ref(p.first), second=_ref(p.second), similarity=p.similarity)
            for p in found.duplicates
        ],
        orphans=[_ref(d) for d in found.orphans],
    )


def _summary(n: int, topic) -> TopicSummary:  # type: ignore[no-untyped-def]
    return TopicSummary(
        id=n,
        label=topic.label,
        named_by=topic.named_by,
        keywords=topic.keywords,
        size=len(topic.documents),
    )


@router.get("/collections/{collection}/topics", response_model=list[TopicSummary])
def topics(request: Request, collection: CollectionPath, _: Reader) -> list[TopicSummary]:
    """The collection's topics, largest first: groups of connected notes, each with a
    label (a short name from the language model when one is configured, else keywords)."""
    found = request.app.state.library.topics(collection=collection)
    return [_summary(n, t) for n, t in enumerate(found)]


@router.get("/collections/{collection}/topics/{topic_id}", response_model=TopicOut)
def topic(
    request: Request,
    collection: CollectionPath,
    topic_id: Annotated[int, PathParam(ge=0, le=100_000)],
    _: Reader,
) -> TopicOut:
    """One topic (its ``id`` from the list) and its documents."""
    found = request.app.state.library.topics(collection=collection)
    if topic_id >= len(found):
        raise ApiError(
            404, "topic_not_found", f"no topic {topic_id}: the collection has {len(found)}"
        )
    summary = _summary(topic_id, found[topic_id])
    return TopicOut(**summary.model_dump(), documents=[_ref(d) for d in found[topic_id].documents])


def _export(library, collection: str) -> Path:  # type: ignore[no-untyped-def]
    handle, name = tempfile.mkstemp(prefix="mnemo-export-", suffix=".zip")
    os.close(handle)
    try:
        library.export_collection(name, collection=collection)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


@router.get(
    ARCHIVE_PATH,
    response_class=FileResponse,
    responses={200: {"description": "The archive (zip).", "content": {"application/zip": {}}}},
)
async def export_archive(
    request: Request, collection: CollectionPath, principal: Admin
) -> FileResponse:
    """The whole collection as one archive (what `mnemo export` writes): written to a
    temporary file, sent from disk, then deleted."""
    library = request.app.state.library
    path = await run_in_threadpool(_export, library, collection)
    await run_in_threadpool(audit.record, request, principal, "collection.export", collection, 200)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"{collection}.mnemo.zip",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _import(library, upload: UploadFile, collection: str) -> tuple[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    try:
        library.collection(collection)
    except CollectionError:
        pass
    else:
        raise ApiError(
            409, "collection_exists", f"collection {collection!r} exists already: choose a new name"
        )
    with tempfile.TemporaryDirectory(prefix="mnemo-import-") as folder:
        path = Path(folder) / "upload.mnemo.zip"
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        try:
            name, counts, _ = library.import_collection(path, name=collection, settings=False)
        except ArchiveError as exc:
            message = str(exc).replace(str(path), "the archive")
            raise ApiError(400, "bad_archive", message) from None
    return name, counts


@router.post(
    ARCHIVE_PATH,
    status_code=201,
    response_model=ImportOut,
)
async def import_archive(
    request: Request,
    collection: CollectionPath,
    file: Annotated[UploadFile, File(description="An archive `mnemo export` wrote.")],
    principal: Admin,
) -> ImportOut:
    """Import an archive into a new collection of this name (its search index is written
    from the archive's rows). The archive is untrusted: only the members an export writes,
    within size limits, are read; its settings file is not applied."""
    library = request.app.state.library
    name, counts = await run_in_threadpool(_import, library, file, collection)
    await run_in_threadpool(audit.record, request, principal, "collection.import", name, 201)
    return ImportOut(collection=name, tables={k: v for k, v in counts.items() if v >= 0})

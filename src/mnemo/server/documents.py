"""Documents: upload or add by server path (as background jobs), list, get, delete; jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from mnemo.catalog.jobs import JobInfo
from mnemo.catalog.summary import DocumentInfo
from mnemo.ingest.web import UrlRefused, is_url
from mnemo.library import Library
from mnemo.server import audit, schemas
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES, ApiError
from mnemo.server.queries import CollectionPath
from mnemo.server.uploads import allowed_path, check_upload, is_upload, save_upload

router = APIRouter(tags=["documents"], responses=ERROR_RESPONSES)
#: The one route that takes a file; it alone gets server.max_upload_mb (limits.BodyLimit).
UPLOAD_PATH = "/collections/{collection}/documents"
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]


def job_out(job: JobInfo) -> schemas.JobOut:
    report = schemas.JobReport.model_validate(job.report) if job.report else None
    return schemas.JobOut(
        id=job.id,
        collection=job.collection,
        paths=job.paths,
        state=job.state,  # type: ignore[arg-type]
        files_done=job.files_done,
        files_total=job.files_total,
        report=report,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        runner_host=job.runner_host,
        runner_pid=job.runner_pid,
    )


def document_out(info: DocumentInfo) -> schemas.DocumentOut:
    return schemas.DocumentOut.model_validate(info, from_attributes=True)


@router.post(UPLOAD_PATH, status_code=202, response_model=schemas.JobOut)
async def upload(
    request: Request,
    collection: CollectionPath,
    file: Annotated[UploadFile, File(description="A PDF, DOCX, HTML or text file.")],
    principal: Writer,
) -> schemas.JobOut:
    """Upload a file; it is checked by content, saved, and indexed by a background job."""
    state = request.app.state
    await run_in_threadpool(state.library.collection, collection)  # 404 up front
    data = await file.read()
    name = check_upload(file.filename or "", data, state.settings.server.max_upload_mb)
    path = await run_in_threadpool(save_upload, state.settings, collection, name, data)
    job = await run_in_threadpool(state.jobs.submit, collection, [str(path)])
    await run_in_threadpool(audit.record, request, principal, "document.upload", str(path), 202)
    return job_out(job)


@router.post("/collections/{collection}/sources", status_code=202, response_model=schemas.JobOut)
def add_path(
    request: Request, collection: CollectionPath, body: schemas.SourceAdd, principal: Writer
) -> schemas.JobOut:
    """Add a file or folder on the server (below ``server.allowed_roots``), or a web page
    by its http(s) URL, as a background job. A URL whose host resolves to a loopback,
    private, link-local or metadata address is refused (403) unless
    ``web.allow_private_addresses``; ``web.server_urls = false`` refuses every URL."""
    state = request.app.state
    state.library.collection(collection)  # 404 up front
    path = _allowed_url(state.library, body.path) if is_url(body.path) else None
    if path is None:
        path = str(allowed_path(state.settings, body.path))
    job = state.jobs.submit(collection, [path])
    audit.record(request, principal, "source.add", path, 202)
    return job_out(job)


def _allowed_url(library: Library, raw: str) -> str:
    try:
        return library.check_url(raw)
    except UrlRefused as exc:
        if exc.forbidden:
            raise ApiError(403, "url_not_allowed", str(exc)) from exc
        raise ApiError(400, "bad_url", str(exc)) from exc


@router.get("/collections/{collection}/documents", response_model=list[schemas.DocumentOut])
def list_documents(
    request: Request,
    collection: CollectionPath,
    _: Reader,
    state: Annotated[str | None, Query(pattern="^(indexed|skipped|failed)$")] = None,
) -> list[schemas.DocumentOut]:
    """Every document with its state (indexed, skipped, failed) and the reason."""
    library = request.app.state.library
    return [document_out(d) for d in library.documents(collection=collection, state=state)]


@router.get(
    "/collections/{collection}/documents/{document_id}", response_model=schemas.DocumentDetail
)
def get_document(
    request: Request, collection: CollectionPath, document_id: str, _: Reader
) -> schemas.DocumentDetail:
    """One document's metadata and its chunks in order."""
    info, chunks = request.app.state.library.document(document_id, collection=collection)
    return schemas.DocumentDetail(
        **document_out(info).model_dump(),
        chunk_list=[
            schemas.ChunkOut(
                id=c.id,
                ordinal=c.ordinal,
                text=c.text,
                heading_path=c.heading_path,
                page_start=c.page_start,
                page_end=c.page_end,
                tokens=c.token_count,
            )
            for c in chunks
        ],
    )


@router.delete("/collections/{collection}/documents/{document_id}", response_model=schemas.Removed)
def delete_document(
    request: Request, collection: CollectionPath, document_id: str, principal: Writer
) -> schemas.Removed:
    """Remove a document from the index; an uploaded file is deleted too."""
    settings = request.app.state.settings
    path = request.app.state.library.remove_document(document_id, collection=collection)
    if is_upload(settings, path):
        Path(path).unlink(missing_ok=True)
    audit.record(request, principal, "document.delete", path, 200)
    return schemas.Removed(removed=path)


@router.get("/collections/{collection}/jobs", response_model=list[schemas.JobOut])
def list_jobs(request: Request, collection: CollectionPath, _: Reader) -> list[schemas.JobOut]:
    """A collection's ingestion jobs, newest first."""
    return [job_out(j) for j in request.app.state.jobs.list(collection)]


@router.get("/jobs/{job_id}", response_model=schemas.JobOut)
def get_job(request: Request, job_id: str, _: Reader) -> schemas.JobOut:
    """A job's state, progress and, once done, its per-file report."""
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job {job_id!r}")
    return job_out(job)


@router.delete("/jobs/{job_id}", response_model=schemas.JobOut)
def cancel_job(request: Request, job_id: str, principal: Writer) -> schemas.JobOut:
    """Cancel a job: a queued one at once, a running one at its next file (files already
    indexed are kept). A finished job is returned as it is."""
    job = request.app.state.jobs.cancel(job_id)
    audit.record(request, principal, "job.cancel", job_id, 200)
    return job_out(job)

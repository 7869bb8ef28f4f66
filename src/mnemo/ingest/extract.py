"""Turn one file into chunks: read, hash, parse, chunk. Runs in worker processes.

Everything here is a pure function of the file and a :class:`Job`; the catalog
is written by the parent process only. Every open of a document goes through
:func:`~mnemo.ingest.confine.open_document`, so a job with ``allowed_roots``
never reads a file that resolves outside them. A parser that runs out of
memory raises MemoryError out of :func:`extract`; the worker that runs it
(:mod:`mnemo.ingest.worker`) knows its budget and reports it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mnemo.chunking import ChunkDraft, Chunker
from mnemo.ingest.confine import OutsideRoots, open_document
from mnemo.ingest.parsers import Format, ParseFailed, ParseLimits, ParseSkipped, format_for
from mnemo.ingest.parsers.base import (
    Attachment,
    OcrOptions,
    ParseRetry,
    TranscriptionOptions,
    text_too_large,
)

Status = Literal["indexed", "skipped", "failed", "known"]
_HEAD = 8192
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Job:
    path: str
    size: int
    known_hash: str | None  # content already indexed for this path: if unchanged, do not parse
    max_bytes: int
    max_pages: int
    max_chunks: int
    max_tokens: int
    overlap_tokens: int
    tokenizer: Path | None
    max_text_chars: int = 25_000_000
    max_inflated_bytes: int = 256_000_000
    max_compression_ratio: float = 100.0
    #: Resolved folders the file must lie in when opened (empty: anywhere).
    allowed_roots: tuple[str, ...] = ()
    #: The reason given when it does not (default: one naming server.allowed_roots).
    outside_reason: str | None = None
    ocr: OcrOptions = field(default_factory=lambda: OcrOptions(enabled=False))
    transcription: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    #: The file holding the bytes when ``path`` is not one (a web page's stored copy).
    read_from: str | None = None


@dataclass
class Extracted:
    path: str
    status: Status
    reason: str | None = None
    transient: bool = False  # a retry may succeed without the file changing
    content_hash: str | None = None
    size: int = 0
    mtime_ns: int = 0
    media_type: str | None = None
    parser: str | None = None
    title: str | None = None
    page_count: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    chunks: list[ChunkDraft] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    worker_peak_kb: int = 0  # peak resident memory of the process that parsed it
    #: Files carried inside this one (e-mail attachments), each a document of its own.
    children: list[Extracted] = field(default_factory=list)


# Parsing libraries log warnings about the files they read ("recursion depth
# reached", "could not parse date"); the outcome and reason of each file say
# what matters, so keep their chatter off the user's terminal.
for _name in ("pypdfium2", "trafilatura", "htmldate", "courlan", "charset_normalizer", "docx"):
    logging.getLogger(_name).setLevel(logging.ERROR)

_chunkers: dict[tuple[int, int, Path | None], Chunker] = {}


def _chunker(job: Job) -> Chunker:
    key = (job.max_tokens, job.overlap_tokens, job.tokenizer)
    if key not in _chunkers:
        _chunkers[key] = Chunker(job.max_tokens, job.overlap_tokens, job.tokenizer)
    return _chunkers[key]


def file_sha256(path: str, allowed_roots: tuple[str, ...] = ()) -> str | None:
    """The file's content hash, or None if it cannot be read now (or lies outside the roots)."""
    digest = hashlib.sha256()
    try:
        with os.fdopen(open_document(path, allowed_roots), "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except (OSError, OutsideRoots):
        return None
    return digest.hexdigest()


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file disappeared during the run"
    if isinstance(exc, PermissionError):
        return "permission denied: make the file readable, then run `mnemo sync`"
    if isinstance(exc, IsADirectoryError):
        return "became a folder during the run"
    return f"cannot read the file ({exc.strerror or exc})"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def extract(job: Job) -> Extracted:
    """Never raises for a bad file (except MemoryError): every outcome is a status with a reason."""
    result = Extracted(path=job.path, status="failed", size=job.size)
    path = Path(job.path)  # a web page's URL, as a path: what parsers see (title fallback)
    stored = Path(job.read_from) if job.read_from else path
    if job.size > job.max_bytes and not job.allowed_roots:
        result.status, result.reason = "skipped", _too_big(job.size, job.max_bytes)
        return result
    started = time.perf_counter()
    try:
        with os.fdopen(open_document(str(stored), job.allowed_roots), "rb") as handle:
            info = os.fstat(handle.fileno())
            result.size, result.mtime_ns = info.st_size, info.st_mtime_ns
            if info.st_size > job.max_bytes:
                result.status, result.reason = "skipped", _too_big(info.st_size, job.max_bytes)
                return result
            fmt = format_for(stored)
            if fmt is None:  # the extension says nothing: look at the first bytes
                fmt = format_for(stored, os.pread(handle.fileno(), _HEAD, 0))
            if isinstance(fmt, str):
                result.status, result.reason = "skipped", fmt
                return result
            data = handle.read(job.max_bytes + 1)
    except OutsideRoots as exc:
        result.reason = job.outside_reason or str(exc)
        return result
    except OSError as exc:
        result.reason, result.transient = _os_reason(exc), True
        return result
    if len(data) > job.max_bytes:  # it grew since the folder was scanned
        result.status = "skipped"
        result.reason = f"file is over the {_mb(job.max_bytes)} limit (raise ingest.max_file_mb)"
        return result
    result.content_hash = hashlib.sha256(data).hexdigest()
    result.seconds["read"] = time.perf_counter() - started
    if result.content_hash == job.known_hash:
        result.status = "known"
        return result
    _parse_and_chunk(job, fmt, path, data, result)
    return result


def _too_big(size: int, limit: int) -> str:
    return (
        f"file is {_mb(size)}, over the {_mb(limit)} limit (raise ingest.max_file_mb to index it)"
    )


def _limits(job: Job) -> ParseLimits:
    return ParseLimits(
        max_pages=job.max_pages,
        max_inflated_bytes=job.max_inflated_bytes,
        max_compression_ratio=job.max_compression_ratio,
        max_text_chars=job.max_text_chars,
        ocr=job.ocr,
        transcription=job.transcription,
    )


def _too_many_chunks(count: str, job: Job) -> str:
    return (
        f"file would make {count} chunks, over the limit of {job.max_chunks:,} "
        "(raise ingest.max_chunks_per_file to index it)"
    )


def _parse_and_chunk(
    job: Job, fmt: Format, path: Path, data: bytes, result: Extracted, *, carried: bool = False
) -> None:
    """``carried``: the file is itself an attachment; its own attachments are not read."""
    result.media_type, result.parser = fmt.media_type, fmt.name
    if not data:  # for every format: a 0-byte PDF or DOCX is empty, not corrupt
        result.status, result.reason = "skipped", "empty file (0 bytes)"
        return
    started = time.perf_counter()
    try:
        parsed = fmt.parse(data, path, _limits(job))
    except ParseSkipped as exc:
        result.status, result.reason = "skipped", str(exc)
        return
    except ParseFailed as exc:
        result.status, result.reason = "failed", str(exc)
        result.transient = isinstance(exc, ParseRetry)
        return
    except MemoryError:
        raise
    except RecursionError:
        result.reason = f"{fmt.name} parser gave up: the file is nested too deeply"
        return
    except Exception as exc:  # a parser bug or a library's unexpected error on odd input
        result.reason = f"{fmt.name} parser error ({type(exc).__name__}: {exc})"
        return
    finally:
        result.seconds["parse"] = time.perf_counter() - started
    result.title = parsed.title
    result.metadata = parsed.metadata
    result.page_count = len(parsed.pages) if parsed.pages else parsed.metadata.get("pages")
    if len(parsed.text) > job.max_text_chars:
        result.status = "skipped"
        result.reason = str(text_too_large(len(parsed.text), job.max_text_chars))
        return
    # Every word is at least one token, so a text with more words than the chunk
    # limit allows is refused before chunking it (counting is cheap, chunking is not).
    if len(parsed.text) > job.max_chunks * job.max_tokens:
        words = sum(1 for _ in _WORD.finditer(parsed.text))
        if words > job.max_chunks * job.max_tokens:
            result.status = "skipped"
            result.reason = _too_many_chunks(f"at least {-(-words // job.max_tokens):,}", job)
            return
    started = time.perf_counter()
    chunks = _chunker(job).chunk(parsed, max_chunks=job.max_chunks)
    result.seconds["chunk"] = time.perf_counter() - started
    if not chunks:
        result.status, result.reason = "skipped", "no text to index"
        return
    if len(chunks) > job.max_chunks:
        result.status = "skipped"
        result.reason = _too_many_chunks(f"more than {job.max_chunks:,}", job)
        return
    result.status, result.chunks = "indexed", chunks
    if parsed.attachments and not carried:
        started = time.perf_counter()
        result.children = [_attachment(job, result, a) for a in parsed.attachments]
        result.seconds["parse"] += time.perf_counter() - started


def attachment_path(container: str, where: str, name: str) -> str:
    """The virtual path of a file carried inside ``container``."""
    return f"{container}#{where}/{name}"


def _attachment(job: Job, container: Extracted, attachment: Attachment) -> Extracted:
    """An attachment parsed and chunked by its own format's parser, within the same
    limits as a file; it keeps the container's modification time."""
    path = attachment_path(container.path, attachment.where, attachment.name)
    data = attachment.data
    result = Extracted(path=path, status="failed", size=len(data), mtime_ns=container.mtime_ns)
    result.content_hash = hashlib.sha256(data).hexdigest()
    title = f"{attachment.name} (attached to '{attachment.carrier}')"
    linked = {"attached_to": container.path, "carrier": attachment.carrier}
    if len(data) > job.max_bytes:
        result.status, result.reason = "skipped", _too_big(len(data), job.max_bytes)
    else:
        fmt = format_for(Path(attachment.name)) or format_for(Path(attachment.name), data[:_HEAD])
        if isinstance(fmt, str) or fmt is None:
            result.status = "skipped"
            result.reason = fmt or "attachment of an unknown type: not indexed"
        else:
            _parse_and_chunk(job, fmt, Path(attachment.name), data, result, carried=True)
    result.title = title
    result.metadata = dict(result.metadata, **linked)
    return result

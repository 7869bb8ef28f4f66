"""The web-page step of a sync: fetch each URL source, decide what the worker parses.

A URL source is its own document (its path is the URL). Each run asks the site
again with the validators stored in the document (``If-None-Match`` /
``If-Modified-Since``): an unchanged page (304, or the same bytes) is not parsed
again; a changed one is saved under ``<home>/web/`` and parsed in a worker
process like a file; a page that is gone (404, 410) is removed with its source,
like a deleted file; a page that cannot be fetched now keeps what was indexed
and is reported as failed with the reason. The document's ``meta["web"]`` holds
the stored copy's name, the content type, the validators and the fetch time.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from mnemo.catalog import Catalog, Document, Source
from mnemo.catalog.models import utcnow
from mnemo.catalog.writes import delete_document
from mnemo.config import Settings
from mnemo.config.private import FILE_MODE, private_dir
from mnemo.ingest.discovery import Candidate
from mnemo.ingest.extract import Extracted, Job
from mnemo.ingest.web import Fetched, Fetcher, FetchFailed, UrlRefused, is_url, stored_name

WEB_FOLDER = "web"
SERVER_OFF = (
    "adding web pages through the server is off (web.server_urls); "
    "add it with `mnemo add` on the server's machine"
)


@dataclass
class Planned:
    """A fetched page for a worker to parse, and what its document's meta gets."""

    job: Job
    candidate: Candidate
    source_id: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageStep:
    """What the sync needs from its caller: settings, the catalog and how to report."""

    settings: Settings
    catalog: Catalog
    collection_id: int
    server: bool  # the run was asked for by a server client
    log: Callable[[str, str, str | None], None]  # (url, outcome, reason): counted and kept
    make_job: Callable[[Candidate], Job]
    reusable: Callable[[Document], bool]
    pipeline_key: str = ""

    def run(self, sources: list[Source]) -> list[Planned]:
        pages = [s for s in sources if is_url(s.path)]
        if not pages:
            return []
        if self.server and not self.settings.web.server_urls:
            for source in pages:
                self.log(source.path, "failed", SERVER_OFF)
            return []
        guard = self.server and not self.settings.web.allow_private_addresses
        planned: list[Planned] = []
        with Fetcher(self.settings.web, guard=guard) as fetcher:
            for source in pages:
                found = self._one(fetcher, source)
                if found is not None:
                    planned.append(found)
        return planned

    def _document(self, url: str) -> Document | None:
        with self.catalog.session(readonly=True) as session:
            doc = session.scalar(
                select(Document).where(
                    Document.collection_id == self.collection_id, Document.path == url
                )
            )
            if doc is not None:
                session.expunge(doc)  # kept loaded: read after the session ends
            return doc

    def _one(self, fetcher: Fetcher, source: Source) -> Planned | None:
        url = source.path
        doc = self._document(url)
        web: dict[str, Any] = dict((doc.meta or {}).get("web") or {}) if doc is not None else {}
        stored = self.folder / web["stored"] if web.get("stored") else None
        kept = doc is not None and self.reusable(doc) and stored is not None and stored.is_file()
        try:
            fetched = fetcher.fetch(
                url,
                web.get("etag") if kept else None,
                web.get("last_modified") if kept else None,
            )
        except (FetchFailed, UrlRefused) as exc:
            self._failed(url, doc, str(exc), source.id)
            return None
        if fetched.state == "gone":
            self._gone(url, doc, source, fetched.status, stored)
            return None
        if fetched.state == "not_modified":
            if kept:
                self.log(url, "unchanged", None)
            else:  # a 304 to a request without validators: nothing to index
                self._failed(
                    url,
                    doc,
                    "the server answered 304 Not Modified to a plain request; try again later",
                    source.id,
                )
            return None
        return self._fetched(url, doc, web, fetched, source.id, kept)

    @property
    def folder(self) -> Path:
        return self.settings.home / WEB_FOLDER

    def _fetched(
        self,
        url: str,
        doc: Document | None,
        web: dict[str, Any],
        fetched: Fetched,
        source_id: int,
        kept: bool,
    ) -> Planned | None:
        digest = hashlib.sha256(fetched.data).hexdigest()
        name = stored_name(url, fetched.extension)
        meta = {
            "stored": name,
            "content_type": fetched.content_type,
            **fetched.validators,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if kept and doc is not None and doc.content_hash == digest and web.get("stored") == name:
            # The same bytes again (the site sends no validators): remember the new ones only.
            with self.catalog.session() as session:
                session.execute(
                    update(Document)
                    .where(Document.id == doc.id)
                    .values(meta=dict(doc.meta or {}, web=meta), updated_at=utcnow())
                )
            self.log(url, "unchanged", None)
            return None
        folder = private_dir(self.folder)
        target = folder / name
        partial = folder / f".{name}.{os.getpid()}.partial"
        with open(partial, "wb") as handle:
            handle.write(fetched.data)
        os.chmod(partial, FILE_MODE)
        os.replace(partial, target)
        old = web.get("stored")
        if old and old != name:  # the page changed type (HTML to PDF): its old copy goes
            (folder / old).unlink(missing_ok=True)
        candidate = Candidate(url, len(fetched.data), time.time_ns())
        job = replace(self.make_job(candidate), read_from=str(target))
        return Planned(job, candidate, source_id, meta)

    def _failed(self, url: str, doc: Document | None, reason: str, source_id: int) -> None:
        if doc is not None and doc.status == "indexed":
            self.log(url, "failed", f"{reason}; the version indexed before is kept")
            return
        from mnemo.ingest.save import save_extracted

        result = Extracted(path=url, status="failed", reason=reason, transient=True)
        with self.catalog.session() as session:
            save_extracted(session, self.collection_id, source_id, doc, result, self.pipeline_key)
        self.log(url, "failed", reason)

    def _gone(
        self, url: str, doc: Document | None, source: Source, status: int, stored: Path | None
    ) -> None:
        with self.catalog.session() as session:
            if doc is not None:
                delete_document(session, doc.id)
            row = session.get(Source, source.id)
            if row is not None:
                session.delete(row)
        if stored is not None:
            stored.unlink(missing_ok=True)
        if doc is not None and doc.status == "indexed":
            self.log(url, "removed", f"the page is gone (HTTP {status}); its source was removed")
        else:
            self.log(url, "failed", f"no page there (HTTP {status}): check the address")


def web_meta(result: Extracted, planned: Planned) -> None:
    """``result``'s metadata, with the page's stored copy and validators added."""
    result.metadata = dict(result.metadata, web=planned.meta, url=planned.candidate.path)

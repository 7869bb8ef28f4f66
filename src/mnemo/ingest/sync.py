"""Bring a collection's catalog in step with its sources.

One pass: scan the sources, decide per file from size and mtime whether it can
have changed, extract changed and new files (always in worker processes, each
file within a memory and time budget), then write each file's outcome in its
own transaction. The search index is opened and healed in a thread meanwhile
(importing LanceDB alone takes about 4 s on 2 cores): workers parse from the
start, and results wait for the index only until it is ready. Content that reappears under a new path is recognised by hash and keeps its document and
chunks (a rename or move); what is gone is removed last. A crash at any point
leaves the catalog consistent, and the next run finishes the work.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mnemo import tracing
from mnemo.catalog import Catalog, Collection, Document, Run, RunFile, Source
from mnemo.catalog.models import Edge, utcnow
from mnemo.catalog.writes import delete_document, mark_for_index
from mnemo.chunking import Chunker
from mnemo.config import Settings
from mnemo.config.private import FILE_MODE, private_dir
from mnemo.errors import BusyError
from mnemo.ingest.discovery import Candidate, Confinement, discover
from mnemo.events import Event, EventHandler
from mnemo.ingest.options import ocr_options, transcription_options
from mnemo.ingest.extract import Extracted, Job, file_sha256
from mnemo.ingest.pool import Budget, context, extract_in_processes
from mnemo.ingest.pages import PageStep, Planned, web_meta
from mnemo.ingest.save import save_extracted
from mnemo.ingest.web import is_url
from mnemo.index.updater import IndexUpdater
from mnemo.report import RunReport

log = logging.getLogger(__name__)

#: The edge from a message to each of its attachments' documents.
ATTACHMENT = "attachment"
#: Statuses whose outcome depends only on the file's content.
SETTLED = ("indexed", "skipped", "failed")
#: Files of one run that get their own span (parse, chunk) in its trace.
MAX_TRACED_FILES = 1000
_STAGES = ("read", "parse", "chunk")  # what a worker times for each file
#: While files are parsed, the keyword index catches up this often (seconds).
FLUSH_SECONDS = 2.0
#: After Ctrl-C, how long a run waits for a heal of its index in progress (seconds).
STOP_WAIT = 10.0
#: Why a server does not follow a link that leaves its allowed folders (no target named).
SERVER_CONFINED = (
    "resolves outside the folders this server may read (server.allowed_roots): not read"
)
LEFT_SOURCE = (
    "symbolic link to a place outside the source folder: not followed "
    '(set ingest.symlinks = "follow" to index what it points to)'
)




@dataclass
class _Known:
    id: str
    path: str
    source_id: int | None
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str
    pipeline_key: str | None
    transient: bool
    carried_by: str | None = None  # an attachment: the path of the message it came in


class _IndexOpening:
    """Opens (and heals) the collection's index in a thread; :meth:`wait` hands it over.

    Healing is the only step that writes, and it runs inside :meth:`writing`: once
    :meth:`stop` is called it either has finished or never starts, so a run that
    fails or is interrupted waits only for a heal in progress, never for the import.
    """

    def __init__(
        self, open_index: Callable[[_IndexOpening], tuple[IndexUpdater, list[str]]]
    ) -> None:
        self._open_index = open_index
        self._stopped = threading.Event()
        self._writes = threading.Lock()
        self._result: tuple[IndexUpdater, list[str]] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mnemo-index-open", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._open_index(self)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            self._error = exc

    @contextmanager
    def writing(self) -> Iterator[None]:
        """In the thread, around what writes; raises _Stopped after :meth:`stop`."""
        with self._writes:
            if self._stopped.is_set():
                raise _Stopped
            yield

    def ready(self) -> bool:
        return not self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        """Let it write nothing more; wait (up to ``timeout`` seconds) for a write in
        progress. True when nothing of it writes any more."""
        self._stopped.set()
        if not self._writes.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self._writes.release()
        return True

    def wait(self) -> tuple[IndexUpdater, list[str]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class _Stopped(Exception):
    """The index opening was stopped (its run was interrupted or failed)."""


def collection_lock(settings: Settings, name: str, timeout: float) -> FileLock:
    """The lock a writer of a collection holds: a file in <home>/locks, or a
    PostgreSQL advisory lock when the catalog is shared (``catalog.url``), which
    holds across machines. Both raise filelock.Timeout when busy."""
    if settings.catalog.url is not None:
        from mnemo.catalog.server import AdvisoryLock, lock_engine

        engine = lock_engine(settings.catalog.url.get_secret_value())
        return AdvisoryLock(engine, f"mnemo-collection:{name}", timeout)  # type: ignore[return-value]
    locks = private_dir(settings.home / "locks")
    return FileLock(str(locks / f"{name}.lock"), timeout=timeout, mode=FILE_MODE)


class Syncer:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        collection: Collection,
        on_event: EventHandler | None = None,
        confine: Sequence[Path] | None = None,
    ) -> None:
        """With ``confine`` (a server's readable folders), no file outside them is read."""
        self.settings = settings
        self.catalog = catalog
        self.collection = collection
        self.on_event = on_event or (lambda event: None)
        self.confine = (
            None if confine is None else tuple(os.path.realpath(root) for root in confine)
        )
        self._confinements: dict[int, Confinement | None] = {}
        cfg = settings.chunking
        self.pipeline_key = Chunker(cfg.max_tokens, cfg.overlap_tokens, cfg.tokenizer).key

    def run(
        self,
        command: str,
        sources: list[Source],
        only_paths: Iterable[str] | None = None,
        lock_timeout: float = 5.0,
    ) -> RunReport:
        """Sync ``sources``; with ``only_paths``, only those paths (and what was below them)."""
        with self.locked(lock_timeout):
            return self.run_locked(command, sources, only_paths)

    @contextmanager
    def locked(self, timeout: float = 5.0) -> Iterator[None]:
        """Hold the collection's write lock; BusyError when another process holds it."""
        lock = collection_lock(self.settings, self.collection.name, timeout)
        try:
            lock.acquire()
        except Timeout as exc:
            raise BusyError(
                f"another Mnemo process is updating collection {self.collection.name!r}; "
                "wait for it to finish (or stop it) and try again"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # -- the pass ---------------------------------------------------------------

    def _start_run(self, command: str) -> RunReport:
        with self.catalog.session() as session:
            # We hold the collection lock, so any run still "running" has died.
            session.execute(
                update(Run)
                .where(Run.collection_id == self.collection.id, Run.status == "running")
                .values(status="interrupted", finished_at=utcnow())
            )
            run = Run(collection_id=self.collection.id, command=command, pid=os.getpid())
            session.add(run)
            session.flush()
            return RunReport(run_id=run.id, collection=self.collection.name)

    def _finish_run(self, report: RunReport, status: str, error: str | None = None) -> None:
        report.status = status
        with self.catalog.session() as session:
            session.execute(
                update(Run)
                .where(Run.id == report.run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    error=error,
                    counts=dict(report.counts, excluded=report.excluded),
                )
            )

    def _end_runs_of_this_process(
        self, report: RunReport | None, status: str, error: str
    ) -> None:
        """Record how a run ended that stopped on an exception; with no report (stopped
        while its row was being written), every run of this process left "running"."""
        if report is not None:
            self._finish_run(report, status, error=error)
            return
        with self.catalog.session() as session:
            session.execute(
                update(Run)
                .where(
                    Run.collection_id == self.collection.id,
                    Run.status == "running",
                    Run.pid == os.getpid(),
                )
                .values(status=status, finished_at=utcnow(), error=error)
            )

    def run_locked(
        self, command: str, sources: list[Source], only_paths: Iterable[str] | None = None
    ) -> RunReport:
        """:meth:`run`, for a caller that holds :meth:`locked` already (one trace)."""
        attributes = {"mnemo.command": command, "mnemo.collection": self.collection.name}
        with tracing.span(self.settings, "ingest", attributes) as root:
            report = self._run_locked(command, sources, only_paths)
            root.set_attributes({f"mnemo.files.{k}": v for k, v in report.counts.items()})
            root.set_attribute("mnemo.chunks_written", report.chunks_written)
            return report

    def _run_locked(
        self, command: str, sources: list[Source], only_paths: Iterable[str] | None
    ) -> RunReport:
        report: RunReport | None = None
        started = time.perf_counter()
        self.updater: IndexUpdater | None = None
        opening = None
        try:
            # Inside the try: a Ctrl-C just after the run's row is written still ends it.
            report = self._start_run(command)
            opening = self._opening = _IndexOpening(self._open_index)
            self._reconcile(report, sources, only_paths)
            self._update_index(report)
            self._update_graph(report)
            report.seconds["total"] = time.perf_counter() - started
            with self.catalog.session() as session:
                session.execute(
                    update(Source)
                    .where(Source.id.in_([s.id for s in sources]))
                    .values(last_synced_at=utcnow())
                )
            self._finish_run(report, "completed")
        except BaseException as exc:
            # Nothing of this run writes after the lock is let go: the opening thread
            # does not start healing now, and one in progress is waited for; after
            # Ctrl-C only up to STOP_WAIT (the process is ending; healing is safe to
            # cut short and re-run).
            if opening is not None and not opening.stop(
                STOP_WAIT if isinstance(exc, KeyboardInterrupt) else None
            ):
                log.debug("the index was still opening when the run was interrupted")
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self._end_runs_of_this_process(report, status, f"{type(exc).__name__}: {exc}")
            raise
        self.on_event(Event("done"))
        assert report is not None
        return report

    def _open_index(self, opening: _IndexOpening) -> tuple[IndexUpdater, list[str]]:
        """Runs in the opening thread: the index, healed; the embedder starts loading too."""
        updater = IndexUpdater(self.settings, self.catalog, self.collection, self.on_event)
        with opening.writing():
            updater.preload()  # the embedder (seconds of imports) loads while workers parse
            return updater, updater.heal()

    def _index(self, report: RunReport) -> IndexUpdater:
        """The opened index, once ready (waits for it); healing's repairs go in the report."""
        if self.updater is None:
            self.updater, report.index_repairs = self._opening.wait()
        return self.updater

    def _update_index(self, report: RunReport) -> None:
        """Keyword index first, then embeddings, then index upkeep."""
        self._index(report)
        assert self.updater is not None
        started = time.perf_counter()
        with tracing.span(self.settings, "index"):
            self.updater.flush()
        report.seconds["index"] = time.perf_counter() - started
        with tracing.span(self.settings, "embed") as span:
            report.embedding = self.updater.embed()
            span.set_attribute("mnemo.embedded", report.embedding.embedded)
        report.seconds["embed"] = report.embedding.seconds
        started = time.perf_counter()
        changed = any(report.counts[k] for k in ("indexed", "removed", "skipped", "failed"))
        if changed or report.embedding.embedded:
            self.updater.forget_unused_vectors()
        self.updater.finish()
        report.seconds["index"] += time.perf_counter() - started

    def _update_graph(self, report: RunReport) -> None:
        """The changed documents' edges, and links elsewhere that name them (ingest.edges)."""
        from mnemo.ingest.edges import update_edges
        from mnemo.ingest.neighbours import update_neighbours

        changed = [o.path for o in report.outcomes if o.outcome != "removed"]
        removed = [o.path for o in report.outcomes if o.outcome == "removed"]
        embedded = bool(report.embedding.embedded)
        if not changed and not removed and not embedded:
            return
        started = time.perf_counter()
        with self.catalog.session() as session:
            ids: set[str] = set()
            for start in range(0, len(changed), 500):
                ids.update(
                    session.scalars(
                        select(Document.id).where(
                            Document.collection_id == self.collection.id,
                            Document.path.in_(changed[start : start + 500]),
                        )
                    )
                )
            update_edges(session, self.collection.id, ids, removed)
            # vectors made later than their files (embedding had stopped): everyone's again
            update_neighbours(session, self.collection.id, ids if ids or not embedded else None)
        report.seconds["graph"] = time.perf_counter() - started

    def _scan(
        self, report: RunReport, sources: list[Source], only_paths: set[str] | None
    ) -> tuple[dict[str, tuple[Candidate, int]], set[int]]:
        """Files found, by path, with their source id; and the sources actually scanned."""
        found: dict[str, tuple[Candidate, int]] = {}
        scanned: set[int] = set()
        for source in sources:
            if is_url(source.path):  # web pages: fetched by the page step (ingest.pages)
                continue
            if not os.path.lexists(source.path):
                self._log(
                    report,
                    source.path,
                    "failed",
                    "source not found (unmounted or moved?); nothing under it was removed. "
                    "Remove it with `mnemo sources remove` if it is gone for good",
                )
                continue
            scanned.add(source.id)
            within = None
            if only_paths is not None:
                within = [p for p in only_paths if _is_under(p, source.path)]
                if not within:
                    continue
            confinement = self._confinements[source.id] = self._confinement(source)
            discovery = discover(
                Path(source.path),
                source.include,
                source.exclude,
                self.settings.ingest,
                within,
                confinement,
            )
            report.excluded += discovery.excluded
            for path, reason in discovery.problems:
                self._log(report, path, "skipped", reason)
            for candidate in discovery.files:
                found.setdefault(candidate.path, (candidate, source.id))
        return found, scanned

    def _known_documents(self) -> dict[str, _Known]:
        with self.catalog.session(readonly=True) as session:
            rows = session.execute(
                select(
                    Document.id,
                    Document.path,
                    Document.source_id,
                    Document.size,
                    Document.mtime_ns,
                    Document.content_hash,
                    Document.status,
                    Document.pipeline_key,
                    Document.meta,
                ).where(Document.collection_id == self.collection.id)
            )
            return {
                row.path: _Known(
                    *row[:8],
                    transient=bool((row.meta or {}).get("transient")),
                    carried_by=(row.meta or {}).get("attached_to"),
                )
                for row in rows
            }

    def _reconcile(
        self, report: RunReport, sources: list[Source], only_paths: Iterable[str] | None
    ) -> None:
        t0 = time.perf_counter()
        scope_paths = set(only_paths) if only_paths is not None else None
        found, scanned = self._scan(report, sources, scope_paths)
        known = self._known_documents()
        report.seconds["scan"] = time.perf_counter() - t0

        def in_scope(doc: _Known) -> bool:
            if doc.source_id is not None and doc.source_id not in scanned:
                return False
            if doc.source_id is None and not any(
                _is_under(doc.path, s.path) for s in sources if s.id in scanned
            ):
                return False
            return scope_paths is None or any(_is_under(doc.path, p) for p in scope_paths)

        # An attachment goes with its message: kept while the message is found (its
        # save replaces them), removed with it.
        missing = {
            p: d
            for p, d in known.items()
            if p not in found and in_scope(d) and d.carried_by not in found
        }
        movable: dict[str, list[_Known]] = {}
        for doc in missing.values():
            if doc.content_hash and doc.pipeline_key == self.pipeline_key and not doc.carried_by:
                movable.setdefault(doc.content_hash, []).append(doc)

        # A move keeps the file's size, so only new files of a missing file's size
        # are hashed here to look for moves; everything else goes to extraction.
        moved_sizes = {d.size for twins in movable.values() for d in twins}
        moved_ids: set[str] = set()
        jobs: list[Job] = []
        for path, (candidate, source_id) in found.items():
            doc = known.get(path)
            if doc is not None and self._unchanged(doc, candidate):
                report.record(path, "unchanged")
                continue
            if doc is None and candidate.size in moved_sizes:
                confinement = self._confinements.get(source_id)
                roots = confinement.roots if confinement is not None else ()
                twins = movable.get(file_sha256(path, roots) or "", [])
                if twins:
                    twin = twins.pop(0)
                    self._index(report)  # a move queues the document for the index
                    moved_ids.update(self._move(report, twin, candidate, source_id))
                    moved_ids.add(twin.id)
                    continue
            known_hash = doc.content_hash if doc is not None and self._reusable(doc) else None
            jobs.append(self._job(candidate, known_hash, self._confinements.get(source_id)))
        pages = {} if only_paths is not None else self._pages(report, sources)
        for page in pages.values():
            found[page.candidate.path] = (page.candidate, page.source_id)
            jobs.append(page.job)
        self.on_event(Event("scanned", total=len(jobs)))

        def save(result: Extracted) -> None:
            candidate, source_id = found[result.path]
            if result.path in pages:
                web_meta(result, pages[result.path])
            if not result.mtime_ns:  # its worker died, ran out of time or memory: the file
                # is failed as it was found, so the next sync does not try it again unchanged
                result.size, result.mtime_ns = candidate.size, candidate.mtime_ns
            self._save(report, result, known.get(result.path), source_id, known)

        # Results wait (a few files' worth) while the index opens: workers keep parsing.
        waiting: list[Extracted] = []
        for result in self._extract_all(jobs, report):
            waiting.append(result)
            if self.updater is None and not self._opening.ready():
                continue
            self._index(report)
            for ready in waiting:
                save(ready)
            waiting.clear()
        self._index(report)
        for ready in waiting:
            save(ready)

        for doc in missing.values():
            if doc.id in moved_ids:
                continue
            with self.catalog.session() as session:
                delete_document(session, doc.id)
                self._log(report, doc.path, "removed", "no longer on disk", session)
            self.on_event(Event("file", path=doc.path, outcome="removed"))

    def _pages(self, report: RunReport, sources: list[Source]) -> dict[str, Planned]:
        """Web pages to parse, by URL; those unchanged, gone or failing are settled here."""

        def log(url: str, outcome: str, reason: str | None) -> None:
            if outcome == "unchanged":  # as for files: counted, not kept in the run's history
                report.record(url, outcome)
                return
            self._log(report, url, outcome, reason)
            self.on_event(Event("file", path=url, outcome=outcome))

        def reusable(doc: Document) -> bool:
            transient = bool((doc.meta or {}).get("transient"))
            return doc.status in SETTLED and not transient and doc.pipeline_key == self.pipeline_key

        step = PageStep(
            self.settings,
            self.catalog,
            self.collection.id,
            server=self.confine is not None,
            log=log,
            make_job=lambda candidate: self._job(candidate, None, None),
            reusable=reusable,
            pipeline_key=self.pipeline_key,
        )
        return {page.candidate.path: page for page in step.run(sources)}

    def _confinement(self, source: Source) -> Confinement | None:
        """Where this source's files may really be: inside the source folder (unless
        ``ingest.symlinks`` is ``follow``), and for a server inside its allowed roots."""
        real = os.path.realpath(source.path)
        if self.confine is not None:
            server = Confinement(self.confine, SERVER_CONFINED)
            if self.settings.ingest.symlinks == "follow" or not server.admits(real):
                return server  # a source outside the roots is refused whole by discover()
        elif self.settings.ingest.symlinks == "follow":
            return None
        folder = real if os.path.isdir(real) else os.path.dirname(real)
        return Confinement((folder,), SERVER_CONFINED if self.confine is not None else LEFT_SOURCE)

    # -- decisions --------------------------------------------------------------

    def _reusable(self, doc: _Known) -> bool:
        return doc.status in SETTLED and not doc.transient and doc.pipeline_key == self.pipeline_key

    def _unchanged(self, doc: _Known, candidate: Candidate) -> bool:
        return (
            self._reusable(doc)
            and doc.size == candidate.size
            and doc.mtime_ns == candidate.mtime_ns
        )

    def _job(
        self, candidate: Candidate, known_hash: str | None, confinement: Confinement | None
    ) -> Job:
        ingest, chunking = self.settings.ingest, self.settings.chunking
        return Job(
            path=candidate.path,
            allowed_roots=confinement.roots if confinement is not None else (),
            outside_reason=confinement.reason if confinement is not None else None,
            size=candidate.size,
            known_hash=known_hash,
            max_bytes=int(ingest.max_file_mb * 1_000_000),
            max_pages=ingest.max_pages,
            max_chunks=ingest.max_chunks_per_file,
            max_tokens=chunking.max_tokens,
            overlap_tokens=chunking.overlap_tokens,
            tokenizer=chunking.tokenizer,
            max_text_chars=int(ingest.max_text_mb * 1_000_000),
            max_inflated_bytes=int(ingest.max_inflated_mb * 1_000_000),
            max_compression_ratio=ingest.max_compression_ratio,
            ocr=ocr_options(self.settings),
            transcription=transcription_options(self.settings),
        )

    # -- extraction -------------------------------------------------------------

    def _workers(self, jobs: int) -> int:
        wanted = self.settings.ingest.workers or os.cpu_count() or 1
        return max(1, min(wanted, jobs))

    def _extract_all(self, jobs: list[Job], report: RunReport) -> Iterator[Extracted]:
        if not jobs:
            return
        ingest = self.settings.ingest
        ctx = context()  # the fork server imports the parsers while the index opens here
        budget = Budget(memory_mb=ingest.max_worker_memory_mb, seconds=ingest.max_parse_seconds)
        traced = 0
        for result in extract_in_processes(jobs, self._workers(len(jobs)), budget, ctx):
            if traced < MAX_TRACED_FILES:
                traced += 1
                stages = [(s, result.seconds[s]) for s in _STAGES if s in result.seconds]
                attributes = {"mnemo.path": result.path, "mnemo.status": result.status}
                tracing.timed_span(self.settings, "file", stages, time.time_ns(), attributes)
            yield self._timed(report, result)

    @staticmethod
    def _timed(report: RunReport, result: Extracted) -> Extracted:
        for stage, seconds in result.seconds.items():
            report.seconds[stage] = report.seconds.get(stage, 0.0) + seconds
        if result.content_hash:
            report.bytes_read += result.size
        report.worker_peak_mb = max(report.worker_peak_mb, result.worker_peak_kb / 1024)
        return result

    # -- writes -----------------------------------------------------------------

    def _save(
        self,
        report: RunReport,
        result: Extracted,
        doc: _Known | None,
        source_id: int,
        known: dict[str, _Known] | None = None,
    ) -> None:
        started = time.perf_counter()
        with self.catalog.session() as session:
            if result.status == "known":  # same content, new mtime: just remember the stat
                session.execute(
                    update(Document)
                    .where(Document.id == doc.id)  # type: ignore[union-attr]
                    .values(size=result.size, mtime_ns=result.mtime_ns, updated_at=utcnow())
                )
                outcome, reason = "unchanged", None
                mark_for_index(session, self.collection.id, doc.id)  # type: ignore[union-attr]
                report.record(result.path, outcome)
            else:
                existing = session.get(Document, doc.id) if doc else None
                saved, inserted = save_extracted(
                    session, self.collection.id, source_id, existing, result, self.pipeline_key
                )
                report.chunks_written += inserted
                outcome, reason = result.status, result.reason
                self._log(report, result.path, outcome, reason, session)
                self._save_attachments(session, report, saved, result, source_id, known or {})
        report.seconds["write"] = report.seconds.get("write", 0.0) + time.perf_counter() - started
        self.on_event(Event("file", path=result.path, outcome=outcome))
        self._index(report).flush_every(FLUSH_SECONDS)

    def _save_attachments(
        self,
        session: Session,
        report: RunReport,
        message: Document,
        result: Extracted,
        source_id: int,
        known: dict[str, _Known],
    ) -> None:
        """Store a message's attachments as documents linked to it (an ``attachment``
        edge each) and remove those it no longer carries, in the message's transaction."""
        session.execute(delete(Edge).where(Edge.source_id == message.id, Edge.kind == ATTACHMENT))
        for child in result.children:
            twin = known.get(child.path)
            existing = session.get(Document, twin.id) if twin is not None else None
            saved, inserted = save_extracted(
                session, self.collection.id, source_id, existing, child, self.pipeline_key
            )
            report.chunks_written += inserted
            self._log(report, child.path, child.status, child.reason, session)
            if child.status == "indexed":
                name = child.path.rsplit("/", 1)[-1]
                session.add(
                    Edge(
                        collection_id=self.collection.id,
                        source_id=message.id,
                        target_id=saved.id,
                        kind=ATTACHMENT,
                        origin="mail",
                        target=name.lower(),
                    )
                )
            self.on_event(Event("file", path=child.path, outcome=child.status))
        kept = {child.path for child in result.children}
        for path, doc in known.items():
            if doc.carried_by == result.path and path not in kept:
                delete_document(session, doc.id)
                self._log(report, path, "removed", "no longer attached to its message", session)
                self.on_event(Event("file", path=path, outcome="removed"))

    def _move(self, report: RunReport, doc: _Known, found: Candidate, source_id: int) -> list[str]:
        """Move the document to its new path; the ids of its attachments, moved with it."""
        with self.catalog.session() as session:
            carried = self._move_attachments(session, doc.path, found.path)
            session.execute(
                update(Document)
                .where(Document.id == doc.id)
                .values(
                    path=found.path,
                    source_id=source_id,
                    size=found.size,
                    mtime_ns=found.mtime_ns,
                    updated_at=utcnow(),
                )
            )
            mark_for_index(session, self.collection.id, doc.id)
            self._log(report, found.path, "moved", f"from {doc.path}", session)
        self.on_event(Event("file", path=found.path, outcome="moved"))
        return carried

    def _log(
        self,
        report: RunReport,
        path: str,
        outcome: str,
        reason: str | None,
        session: Session | None = None,
    ) -> None:
        """Count an outcome and keep it in the run's history (in ``session``'s transaction)."""
        report.record(path, outcome, reason)
        row = RunFile(run_id=report.run_id, path=path, outcome=outcome, reason=reason)
        if session is not None:
            session.add(row)
            return
        with self.catalog.session() as own:
            own.add(row)

    def _move_attachments(self, session: Session, old: str, new: str) -> list[str]:
        """A moved message's attachments move with it (their paths start with its own)."""
        rows = session.execute(
            select(Document.id, Document.path, Document.meta).where(
                Document.collection_id == self.collection.id,
                Document.path.startswith(old + "#", autoescape=True),
            )
        ).all()
        moved = []
        for doc_id, path, meta in rows:
            if (meta or {}).get("attached_to") != old:
                continue
            moved.append(doc_id)
            session.execute(
                update(Document)
                .where(Document.id == doc_id)
                .values(path=new + path[len(old) :], meta=dict(meta, attached_to=new))
            )
            mark_for_index(session, self.collection.id, doc_id)
        return moved


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

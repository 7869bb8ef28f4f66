"""The one door into Mnemo's core: a :class:`Library` owns a data directory's resources.

A Library holds, for a span of work, what each operation would otherwise open
again: the catalog engine (one per Library, not one per call), the LLM client,
and through :mod:`mnemo.index` and :mod:`mnemo.embeddings.resolve` the open
index readers and loaded embedders (kept per process, keyed by data directory
and model, so several Libraries share them). Its methods are the core's
operations, each with the same shape: the subject first (paths, a query, an
id), then keyword options, ``collection`` defaulting to the ``collection``
setting.

The server keeps one Library for its lifetime and every CLI command uses one;
``mnemo.search(...)`` and the other module functions are conveniences over a
short-lived one, as ``httpx.get`` is over ``httpx.Client``::

    with mnemo.Library(settings) as library:
        library.add(["~/notes"])
        hits = library.search("what do cats eat", k=3).hits

A Library is thread-safe: each call runs in its own catalog transaction.
Collection rows are not cached: another process may delete and re-create a
collection at any time, and the lookup by name costs a fraction of a
millisecond on the kept engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from mnemo.catalog import Catalog, Chunk, Collection, Document
from mnemo.catalog.collections import get_collection, list_sources, normalise_path, upsert_source
from mnemo.catalog.db import open_catalog
from mnemo.catalog.documents import DocumentState, resolve_document
from mnemo.catalog.models import Source
from mnemo.catalog.summary import (
    CollectionStatus,
    DocumentInfo,
    DocumentPage,
    collection_status,
    document_info,
    list_documents,
    page_documents,
)
from mnemo.config import Settings, load_settings, settings_provenance
from mnemo.errors import ConfigError, ConversationError, DocumentError, MnemoError, SourceError
from mnemo.events import EventHandler
from mnemo.report import RunReport
from mnemo.retrieval.filters import Filters

if TYPE_CHECKING:
    import threading as _threading

    from mnemo.agents.types import EventHandler as ResearchEventHandler
    from mnemo.agents.types import ResearchAnswer
    from mnemo.catalog.jobs import JobInfo
    from mnemo.catalog.links import NoteLinks
    from mnemo.catalog.memory import MemoryInfo
    from mnemo.catalog.models import Turn
    from mnemo.catalog.summary import Deployment
    from mnemo.config.shown import SettingShown
    from mnemo.generation.answer_cache import AnswerCache, CacheStats
    from mnemo.generation.ask import TextHandler
    from mnemo.generation.base import LLM
    from mnemo.generation.conversations import ConversationInfo, FeedbackInfo
    from mnemo.generation.feedback import FeedbackEntry
    from mnemo.generation.providers import LLMCheck
    from mnemo.generation.types import Answer
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.search import SearchHit, SearchResponse
    from mnemo.tracing.drift import DriftReport
    from mnemo.tracing.read import SpanNode, TraceSummary
    from mnemo.index.migrate import MigrationReport

_UNSET: Any = object()


def _source_key(raw: Path | str) -> str:
    """How a source is named in the catalog: a URL normalised, a path made absolute."""
    from mnemo.ingest.web import is_url, normalise_url

    return normalise_url(raw) if isinstance(raw, str) and is_url(raw) else normalise_path(raw)


class Library:
    """A data directory's collections, with the resources to work on them."""

    def __init__(self, settings: Settings | None = None, *, home: Path | str | None = None) -> None:
        if settings is not None and home is not None:
            raise ConfigError("give a Library either settings or home, not both")
        self.settings = settings if settings is not None else load_settings(home)
        self._catalog: Catalog | None = None
        self._llm: LLM | None = _UNSET
        self._lock = threading.Lock()
        self._answer_cache: AnswerCache | None = None
        #: Called with every answer :meth:`ask` returns (the server's metrics listen).
        self.answer_listeners: list[Callable[[Answer], None]] = []

    # -- resources ----------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The catalog, opened (and migrated) on first use and kept until :meth:`close`."""
        with self._lock:
            if self._catalog is None:
                self._catalog = open_catalog(self.settings)
            return self._catalog

    def llm(self, use: bool | None = None) -> LLM | None:
        """The configured language model (loaded once); None when there is none or
        ``use`` is False. ``use=True`` fails when none is configured."""
        if use is False:
            return None
        with self._lock:
            if self._llm is _UNSET:
                from mnemo.generation.providers import load_llm

                self._llm = load_llm(self.settings)
            llm = self._llm
        if use and llm is None:
            raise ConfigError("no language model configured: set llm.provider and llm.model")
        return llm

    # -- settings and the language model ---------------------------------------------

    def describe_settings(
        self, origins: Mapping[str, str] | None = None
    ) -> tuple[list[SettingShown], dict[str, str]]:
        """What `mnemo config show` prints: every setting with its origin (secrets
        masked; origins worked out again unless given), and the model files in use."""
        from mnemo.config.shown import origins_of, shown_settings
        from mnemo.retrieval.models import files_in_use

        found = origins if origins is not None else origins_of(self.settings)
        return shown_settings(self.settings, found), files_in_use(self.settings)

    def check_llm(self) -> LLMCheck | None:
        """Send the configured model a tiny request (`mnemo llm test`); None when answers
        are extractive. LLMError when it is unreachable or refuses."""
        from mnemo.generation.providers import LLMCheck, check, describe

        llm = self.llm()
        if llm is None:
            return None
        reply, seconds = check(llm)
        return LLMCheck(describe(self.settings), reply, seconds)

    def configure_llm(self, changes: Mapping[str, str | None]) -> list[str]:
        """Write ``llm.*`` settings (``{"model": "llama3.1:8b", "base_url": None}``; None
        removes one) into the home's mnemo.toml and answer with them from now on.
        Returns a note for each one the environment or a flag overrides."""
        from mnemo.config.edit import set_settings
        from mnemo.config.shown import origins_of

        running = origins_of(self.settings)
        set_settings(self.settings.home, {f"llm.{k}": v for k, v in changes.items()})
        fresh, origins = settings_provenance(self.settings.home)
        kept = {
            k: getattr(self.settings.llm, k)
            for k in type(fresh.llm).model_fields
            if running.get(f"llm.{k}") == "flag"
        }
        notes = []
        for key in changes:
            origin = "flag" if key in kept else origins.get(f"llm.{key}")
            if origin in ("env", "flag"):
                where = f"MNEMO_LLM__{key.upper()}" if origin == "env" else "a --set flag"
                notes.append(
                    f"llm.{key} is set by {where}, which wins over mnemo.toml: "
                    "the saved value applies once that is removed"
                )
        with self._lock:
            self.settings.llm = fresh.llm.model_copy(update=kept)
            self._llm = _UNSET  # the next answer loads the new model
        return notes

    def close(self) -> None:
        with self._lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None
            if self._answer_cache is not None:
                self._answer_cache.close()
                self._answer_cache = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _name(self, collection: str | None) -> str:
        return collection or self.settings.collection

    def collection(self, name: str | None = None) -> Collection:
        """A collection's catalog row; CollectionError naming the known ones if there is none."""
        with self.catalog.session(readonly=True) as session:
            return get_collection(session, self._name(name))

    # -- ingestion ----------------------------------------------------------------

    def add(
        self,
        paths: Sequence[Path | str],
        *,
        collection: str | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        on_event: EventHandler | None = None,
        confine: Sequence[Path] | None = None,
    ) -> RunReport:
        """Add files, folders or web pages (http and https URLs) to a collection (created
        if new) and index them.

        With ``confine`` (a server's readable folders), no file that resolves outside
        those folders is read, whatever symbolic links lead to it, and web pages are
        fetched only if ``web.server_urls`` allows, never from private addresses
        unless ``web.allow_private_addresses`` does.
        """
        from mnemo.ingest.pages import SERVER_OFF
        from mnemo.ingest.sync import Syncer
        from mnemo.ingest.web import UrlRefused, is_url

        if not paths:
            raise SourceError("nothing to add: give at least one file, folder or URL")
        resolved = []
        for raw in paths:
            path = _source_key(raw)
            if is_url(raw):
                if confine is not None and not self.settings.web.server_urls:
                    raise UrlRefused(f"{raw}: {SERVER_OFF}", forbidden=True)
            elif not Path(path).exists():
                raise SourceError(f"{raw}: no such file or folder")
            resolved.append(path)
        catalog = self.catalog
        with catalog.session() as session:
            coll = get_collection(session, self._name(collection), create=True)
        syncer = Syncer(self.settings, catalog, coll, on_event, confine)
        # Sources are registered under the lock: an add refused as busy leaves none behind.
        with syncer.locked():
            with catalog.session() as session:
                sources = [
                    upsert_source(session, coll, path, list(include), list(exclude))
                    for path in dict.fromkeys(resolved)
                ]
            return syncer.run_locked("add", sources)

    def check_url(self, url: str) -> str:
        """``url`` normalised, if a server client may add it: http or https, URL
        ingestion on for the server (``web.server_urls``), and, unless
        ``web.allow_private_addresses``, a host that resolves to no loopback, private,
        link-local or metadata address. Else UrlRefused (``forbidden`` says which kind)."""
        from mnemo.ingest.pages import SERVER_OFF
        from mnemo.ingest.web import UrlRefused, check_url, normalise_url

        if not self.settings.web.server_urls:
            raise UrlRefused(f"{url}: {SERVER_OFF}", forbidden=True)
        normal = normalise_url(url)
        if not self.settings.web.allow_private_addresses:
            check_url(normal)
        return normal

    def sync(
        self,
        *,
        collection: str | None = None,
        paths: Iterable[str] | None = None,
        on_event: EventHandler | None = None,
        lock_timeout: float = 5.0,
    ) -> RunReport:
        """Re-scan a collection's sources; with ``paths``, only those paths."""
        from mnemo.ingest.sync import Syncer

        catalog = self.catalog
        with catalog.session() as session:
            coll = get_collection(session, self._name(collection))
            sources = list_sources(session, coll)
        only = [_source_key(p) for p in paths] if paths is not None else None
        command = "sync" if only is None else "watch"
        return Syncer(self.settings, catalog, coll, on_event).run(
            command, sources, only, lock_timeout=lock_timeout
        )

    def watch(
        self,
        *,
        collection: str | None = None,
        stop: _threading.Event | None = None,
        on_event: EventHandler | None = None,
        on_ready: Callable[[], None] | None = None,
        debounce_ms: int = 800,
    ) -> Iterator[RunReport]:
        """Sync once, then once per batch of file-system changes, until ``stop`` is set."""
        from mnemo.ingest.watch import watch

        def sync(paths: list[str] | None) -> RunReport:
            return self.sync(collection=collection, paths=paths, on_event=on_event, lock_timeout=-1)

        def roots() -> list[str]:
            return [s.path for s in self.sources(collection=collection)]

        return watch(sync, roots, stop=stop, on_ready=on_ready, debounce_ms=debounce_ms)

    def sources(self, *, collection: str | None = None) -> list[Source]:
        """The paths a collection reads from, with their globs."""
        with self.catalog.session(readonly=True) as session:
            return list_sources(session, get_collection(session, self._name(collection)))

    def remove_source(self, path: str, *, collection: str | None = None) -> int:
        """Forget a source and every document found through it; returns documents removed."""
        from mnemo.catalog.writes import delete_document

        name = self._name(collection)
        target = _source_key(path)
        with self.catalog.session() as session:
            coll = get_collection(session, name)
            source = session.scalar(
                select(Source).where(Source.collection_id == coll.id, Source.path == target)
            )
            if source is None:
                known = ", ".join(s.path for s in list_sources(session, coll)) or "none"
                raise SourceError(f"{path}: not a source of collection {name!r} (sources: {known})")
            rows = list(
                session.execute(
                    select(Document.id, Document.meta).where(Document.source_id == source.id)
                )
            )
            for doc_id, _ in rows:
                delete_document(session, doc_id)
            session.delete(source)
        for _, meta in rows:  # a web page's stored copy goes with it
            stored = ((meta or {}).get("web") or {}).get("stored")
            if stored:
                (self.settings.home / "web" / Path(stored).name).unlink(missing_ok=True)
        return len(rows)

    def reindex(self, *, collection: str | None = None) -> int:
        """Rebuild a collection's search index from the catalog; returns documents written.

        Stored vectors are reused: nothing is parsed or embedded again.
        """
        from mnemo.index.updater import IndexUpdater
        from mnemo.ingest.sync import collection_lock

        coll = self.collection(collection)
        with collection_lock(self.settings, coll.name, 5.0):
            return IndexUpdater(self.settings, self.catalog, coll).rebuild()

    # -- collections and documents ------------------------------------------------

    def status(
        self, *, collection: str | None = None, check_index: bool = True
    ) -> list[CollectionStatus]:
        """Per-collection totals; all collections unless one is named.

        With ``check_index``, each collection's search index is read and compared
        with the catalog (``CollectionStatus.index``, ``EmbeddingStatus.indexed``).
        """
        catalog = self.catalog
        with catalog.session(readonly=True) as session:
            if collection is not None:
                collections = [get_collection(session, collection)]
            else:
                collections = list(session.scalars(select(Collection).order_by(Collection.name)))
            found = [(c, collection_status(session, c)) for c in collections]
        if not check_index:
            return [item for _, item in found]
        return [self._with_index(coll, item) for coll, item in found]

    def _with_index(self, coll: Collection, item: CollectionStatus) -> CollectionStatus:
        """``item`` with what the collection's search index really holds."""
        from dataclasses import replace

        from mnemo.index import health

        found = health.check_collection(self.settings, self.catalog, coll)
        embeddings = [
            replace(e, indexed=found.vector_rows.get(e.embedder)) for e in item.embeddings
        ]
        return replace(item, embeddings=embeddings, index=found)

    def collections(self) -> list[str]:
        """Every collection's name, in order."""
        with self.catalog.session(readonly=True) as session:
            return list(session.scalars(select(Collection.name).order_by(Collection.name)))

    def create_collection(self, name: str) -> CollectionStatus:
        """Create an empty collection; CollectionError if the name is invalid or taken."""
        from mnemo.errors import CollectionExistsError

        with self.catalog.session() as session:
            if session.scalar(select(Collection).where(Collection.name == name)) is not None:
                raise CollectionExistsError(f"collection {name!r} already exists")
            return collection_status(session, get_collection(session, name, create=True))

    def rename_collection(self, name: str, new_name: str) -> CollectionStatus:
        """Give a collection a new name; its index is written again under it from the
        catalog (nothing is parsed or embedded again). CollectionError if ``new_name`` is
        invalid or taken."""
        from mnemo.config.settings import validate_collection_name
        from mnemo.errors import CollectionError, CollectionExistsError
        from mnemo.index import forget_reader, open_store
        from mnemo.index.updater import IndexUpdater
        from mnemo.ingest.sync import collection_lock

        try:
            validate_collection_name(new_name)
        except ValueError as exc:
            raise CollectionError(str(exc)) from exc
        if new_name == name:
            raise CollectionExistsError(f"collection {new_name!r} already exists")
        first, second = sorted((name, new_name))  # one order: two renames cannot deadlock
        with (
            collection_lock(self.settings, first, 5.0),
            collection_lock(self.settings, second, 5.0),
        ):
            with self.catalog.session() as session:
                coll = get_collection(session, name)
                if session.scalar(select(Collection).where(Collection.name == new_name)):
                    raise CollectionExistsError(f"collection {new_name!r} already exists")
                coll.name = new_name
            forget_reader(self.settings, name)
            renamed = self.collection(new_name)
            IndexUpdater(self.settings, self.catalog, renamed).rebuild()
            open_store(self.settings, name).drop_all()
        return self.status(collection=new_name, check_index=False)[0]

    def delete_collection(self, name: str) -> None:
        """Forget a collection: its catalog rows and its search index (files are not touched)."""
        from mnemo.index import forget_reader, open_store
        from mnemo.ingest.sync import collection_lock

        with collection_lock(self.settings, name, 5.0):
            with self.catalog.session() as session:
                session.delete(get_collection(session, name))
            forget_reader(self.settings, name)
            open_store(self.settings, name).drop_all()

    def documents(
        self, *, collection: str | None = None, state: DocumentState | str | None = None
    ) -> list[DocumentInfo]:
        """A collection's documents, each with its state; only those in ``state`` if given."""
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            return list_documents(session, coll, state)

    def document_page(
        self,
        *,
        collection: str | None = None,
        state: DocumentState | str | None = None,
        contains: str | None = None,
        sort: str = "path",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> DocumentPage:
        """One page of a collection's documents (never all of them): see
        :func:`mnemo.catalog.summary.page_documents`."""
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            return page_documents(
                session,
                coll,
                state=state,
                contains=contains,
                sort=sort,
                descending=descending,
                offset=offset,
                limit=limit,
            )

    def document(
        self, name: str, *, collection: str | None = None
    ) -> tuple[DocumentInfo, list[Chunk]]:
        """One document (by id, path, end of path or file name) and its chunks in order."""
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            doc = self._resolve(session, coll, name)
            chunks = session.scalars(
                select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.ordinal)
            )
            return document_info(doc), list(chunks)

    def word_boxes(
        self, name: str, chunk_id: str, *, collection: str | None = None
    ) -> list[dict[str, Any]]:
        """Where an OCR'd passage's words lie on its page images: per page, the image's
        size and a (left, top, width, height) box per word. Empty for text read from a
        text layer, or when the OCR cache (``<home>/cache/ocr``) was cleared."""
        from mnemo.ingest.parsers.ocr import boxes_in

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            doc = self._resolve(session, coll, name)
            chunk = session.get(Chunk, chunk_id)
            if chunk is None or chunk.document_id != doc.id:
                return []
            pages = list((doc.meta or {}).get("ocr_pages") or [])
            start, end = chunk.char_start, chunk.char_end
        return boxes_in(pages, self.settings.ocr_cache_path, start, end) if pages else []

    def document_file(self, document_id: str, *, collection: str | None = None) -> Path:
        """The file holding a document's bytes: its path, or for a web page the copy
        stored under ``<home>/web/`` when it was fetched."""
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            row = session.execute(
                select(Document.path, Document.meta).where(
                    Document.collection_id == coll.id, Document.id == document_id
                )
            ).first()
        if row is None:
            raise DocumentError(f"no document {document_id!r} in collection {coll.name!r}")
        stored = ((row.meta or {}).get("web") or {}).get("stored")
        return self.settings.home / "web" / Path(stored).name if stored else Path(row.path)

    def remove_document(self, name: str, *, collection: str | None = None) -> str:
        """Remove one document from the catalog and the search index; returns its path.

        A file still below a source comes back at the next sync; uploads are deleted with it,
        and an e-mail's attachments (documents of their own) with the message.
        """
        from mnemo.catalog.writes import delete_document
        from mnemo.index.updater import IndexUpdater
        from mnemo.ingest.edges import update_edges
        from mnemo.ingest.sync import collection_lock

        coll_name = self._name(collection)
        with collection_lock(self.settings, coll_name, 30.0):
            with self.catalog.session() as session:
                coll = get_collection(session, coll_name)
                doc = self._resolve(session, coll, name)
                path = doc.path
                delete_document(session, doc.id)
                carried = session.execute(  # an e-mail's attachments go with it
                    select(Document.id, Document.meta).where(
                        Document.collection_id == coll.id,
                        Document.path.startswith(path + "#", autoescape=True),
                    )
                ).all()
                for carried_id, meta in carried:
                    if (meta or {}).get("attached_to") == path:
                        delete_document(session, carried_id)
                session.execute(
                    delete(Source).where(Source.collection_id == coll.id, Source.path == path)
                )
                update_edges(session, coll.id, (), [path])  # links to it: another note, or missing
            IndexUpdater(self.settings, self.catalog, coll).flush()
        return path

    @staticmethod
    def _resolve(session: Any, coll: Collection, name: str) -> Document:
        doc = session.get(Document, name)
        if doc is not None and doc.collection_id == coll.id:
            return doc  # type: ignore[no-any-return]
        # ids and paths only: whole rows (with their metadata) cost seconds at 20,000 documents
        import os

        tail = "/" + name.replace("\\", "/").removeprefix("./").lstrip("/")
        absolute = os.path.abspath(os.path.expanduser(name))
        rows = session.execute(
            select(Document.id, Document.path).where(
                Document.collection_id == coll.id,
                (Document.path == absolute) | Document.path.endswith(tail, autoescape=True),
            )
        ).all()
        try:
            found = resolve_document(rows, name, coll.name)  # type: ignore[arg-type]
            return session.get(Document, found.id)  # type: ignore[no-any-return]
        except DocumentError:
            raise DocumentError(f"no document {name!r} in collection {coll.name!r}") from None

    # -- queries ------------------------------------------------------------------

    def migrate(
        self, target: Settings, *, collections: list[str] | None = None, sample: int = 20
    ) -> MigrationReport:
        """Copy collections to ``target``'s catalog and index without re-embedding, and
        check the copy: see :mod:`mnemo.index.migrate`."""
        from mnemo.index.migrate import migrate

        mine, theirs = self.settings.catalog.url, target.catalog.url
        same = (mine.get_secret_value() if mine else self.settings.catalog_path) == (
            theirs.get_secret_value() if theirs else target.catalog_path
        )
        other = None if same else open_catalog(target)
        try:
            return migrate(
                self.settings, self.catalog, target, other, collections=collections, sample=sample
            )
        finally:
            if other is not None:
                other.close()

    def search(
        self,
        query: str,
        *,
        collection: str | None = None,
        k: int = 10,
        mode: str | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> SearchResponse:
        """The ``k`` passages that best answer ``query``: see :mod:`mnemo.retrieval.search`."""
        from mnemo.retrieval.search import search

        return search(
            query,
            self.settings_for(collection),
            self.catalog,
            collection=collection,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            filters=filters,
            rerank=rerank,
        )

    def hear(self, audio: bytes, filename: str) -> str:
        """A spoken question as text, by the configured transcription server: see
        :mod:`mnemo.ingest.speech`."""
        from mnemo.ingest.speech import hear

        return hear(audio, filename, self.settings)

    def warm_up(self, *, collection: str | None = None) -> None:
        """Open the index and load the models a first query needs (the embedder, and the
        reranker when answers use it), so that it is as fast as the next ones. A
        collection that does not exist yet, or an embedder that is unreachable, is left
        for the first real query to report."""
        try:
            self.search("warm up", collection=collection, k=1, rerank=self.settings.answer.rerank)
        except MnemoError:
            pass

    def context(
        self,
        hits: Sequence[SearchHit],
        *,
        collection: str | None = None,
        max_tokens: int = 2000,
        neighbours: int = 1,
    ) -> list[ContextPassage]:
        """Passages for ``hits`` within ``max_tokens``: see :mod:`mnemo.retrieval.context`."""
        from mnemo.retrieval.context import assemble_context

        return assemble_context(
            self.catalog, hits, max_tokens=max_tokens, neighbours=neighbours, collection=collection
        )

    def ask(
        self,
        question: str,
        *,
        collection: str | None = None,
        documents: Sequence[str] = (),
        filters: Filters | None = None,
        mode: str | None = None,
        use_llm: bool | None = None,
        conversation_id: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        on_text: TextHandler | None = None,
        cache: bool | None = None,
    ) -> Answer:
        """Answer ``question`` from a collection with checked citations: see
        :mod:`mnemo.generation.ask`. Extractive (offline) when no LLM is configured.

        A question asked before (or rephrased) since the collection last changed is
        answered from the cache (:mod:`mnemo.generation.answer_cache`;
        ``answer.cached_at`` says when it was made) unless ``cache`` is False or the
        ``cache.enabled`` setting is off.

        A follow-up is understood from the conversation ``conversation_id``, or
        else from ``history``: the earlier (question, answer) pairs, oldest first.

        ``use_llm``: None uses the configured model if any, False forces an
        extractive answer, True fails when no model is configured.
        """
        from mnemo.generation.cached import answer

        given = answer(
            question,
            self.settings_for(collection),
            self.catalog,
            self.llm(use_llm),
            self.answer_cache if cache is not False else None,
            collection=collection,
            documents=documents,
            filters=filters,
            mode=mode,
            conversation_id=conversation_id,
            history=history,
            on_text=on_text,
        )
        for listener in self.answer_listeners:
            listener(given)
        return given

    # -- conversations and feedback -------------------------------------------------

    def start_conversation(self, title: str, *, collection: str | None = None) -> str:
        """A new, empty conversation in a collection; returns its id."""
        from mnemo.generation import conversations

        return conversations.start(self.catalog, self._name(collection), title)

    def conversations(self, *, collection: str | None = None) -> list[ConversationInfo]:
        """A collection's conversations, most recently used first."""
        from mnemo.generation import conversations

        return conversations.list_conversations(self.catalog, self._name(collection))

    def all_conversations(self) -> list[ConversationInfo]:
        """Every collection's conversations, most recently used first."""
        found = [c for name in self.collections() for c in self.conversations(collection=name)]
        return sorted(found, key=lambda c: c.updated_at, reverse=True)

    def turns(self, conversation_id: str) -> list[Turn]:
        """A conversation's questions and answers in order."""
        from mnemo.generation import conversations

        return conversations.history(self.catalog, conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and its turns."""
        from mnemo.generation import conversations

        conversations.delete_conversation(self.catalog, conversation_id)

    def conversation(self, conversation_id: str) -> ConversationInfo:
        """One conversation's title, collection and number of turns."""
        from mnemo.generation import conversations

        return conversations.info(self.catalog, conversation_id)

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title."""
        from mnemo.generation import conversations

        conversations.rename(self.catalog, conversation_id, title)

    def export_conversation(self, conversation_id: str) -> tuple[ConversationInfo, str]:
        """A conversation and its questions, answers and cited sources as Markdown."""
        from mnemo.generation import conversations
        from mnemo.generation.transcript import to_markdown

        info = conversations.info(self.catalog, conversation_id)
        return info, to_markdown(info, conversations.history(self.catalog, conversation_id))

    def feedback(self, conversation_id: str) -> dict[int, FeedbackInfo]:
        """The latest judgement of each answer of a conversation, by position."""
        from mnemo.generation import conversations

        return conversations.feedback(self.catalog, conversation_id)

    def add_feedback(
        self,
        conversation_id: str,
        position: int,
        *,
        thumbs: str | None = None,
        rating: int | None = None,
        correction: str | None = None,
        key_id: int | None = None,
    ) -> FeedbackInfo:
        """Store a reader's judgement of the answer at ``position`` (0-based)."""
        from mnemo.generation import conversations

        return conversations.add_feedback(
            self.catalog,
            conversation_id,
            position,
            thumbs=thumbs,
            rating=rating,
            correction=correction,
            key_id=key_id,
        )

    # -- traces -----------------------------------------------------------------------

    def traces(self, *, limit: int = 20, name: str | None = None) -> list[TraceSummary]:
        """The latest traces (asks, searches, ingestion runs), newest first."""
        from mnemo.tracing.read import list_traces

        return list_traces(self.settings, limit=limit, name=name)

    def trace(self, trace_id: str) -> SpanNode:
        """One trace (by id or a unique start of it) as a tree of spans."""
        from mnemo.tracing.read import show_trace

        return show_trace(self.settings, trace_id)

    def drift(self) -> list[DriftReport]:
        """Best-passage relevance and abstentions, recent answers against earlier ones."""
        from mnemo.tracing.drift import drift

        return drift(self.settings)

    # -- server jobs ----------------------------------------------------------------

    def jobs(self, *, collection: str | None = None) -> list[JobInfo]:
        """The server's ingestion jobs, newest first; of one collection, or of all."""
        from mnemo.catalog.jobs import list_jobs

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, collection) if collection is not None else None
            return list_jobs(session, coll)

    def cancel_job(self, job_id: str) -> JobInfo:
        """Cancel a queued ingestion job, or ask a running one to stop at its next file."""
        from mnemo.catalog.jobs import cancel_job

        with self.catalog.session() as session:
            return cancel_job(session, job_id)

    def deployment(self) -> Deployment:
        """Where the collections live (catalog and index, no password) and the ingestion
        queue of every server process sharing the catalog."""
        from mnemo.catalog.jobs import job_counts
        from mnemo.catalog.summary import Deployment
        from mnemo.index.location import index_location

        with self.catalog.session(readonly=True) as session:
            counts = job_counts(session)
        return Deployment(
            catalog_backend=self.catalog.engine.dialect.name,
            catalog=str(self.catalog.path),
            index_backend=self.settings.index.backend,
            index=index_location(self.settings),
            jobs_queued=counts["queued"],
            jobs_running=counts["running"],
        )

    # -- caches, tuning and feedback that changes something ---------------------------

    def settings_for(self, collection: str | None = None) -> Settings:
        """The settings a collection's searches and answers use: the global ones, with
        what `mnemo eval tune --save` kept for it (:mod:`mnemo.config.tuned`)."""
        from mnemo.config.tuned import with_tuned

        return with_tuned(self.settings, self._name(collection))

    @property
    def answer_cache(self) -> AnswerCache:
        """The data directory's answer cache, opened on first use."""
        from mnemo.generation.answer_cache import AnswerCache

        with self._lock:
            if self._answer_cache is None:
                self._answer_cache = AnswerCache(self.settings.home / "cache" / "answers.sqlite")
            return self._answer_cache

    def cache_stats(self, *, collection: str | None = None) -> CacheStats:
        """Cached answers (of one collection, or all), hits, misses and time saved."""
        return self.answer_cache.stats(collection)

    def clear_cache(self, *, collection: str | None = None) -> int:
        """Forget cached answers (of one collection, or all); returns how many."""
        return self.answer_cache.clear(collection)

    def log_answer(self, answer: Answer, channel: str, *, collection: str | None = None) -> str:
        """Keep an answer given outside a conversation (``channel``: /v1, mcp) so it
        can be judged; returns its message id."""
        from mnemo.generation.feedback import log_answer

        return log_answer(self.catalog, self._name(collection), channel, answer)

    def judge(
        self,
        message_id: str,
        *,
        thumbs: str | None = None,
        rating: int | None = None,
        correction: str | None = None,
        save_note: bool = False,
        key_id: int | None = None,
    ) -> tuple[FeedbackInfo, Path | None]:
        """Judge the answer ``message_id`` names (``<conversation>-<position>``). With
        ``save_note``, the correction is also kept as a note in the answer's collection
        and indexed, so later answers can cite it; returns the note's path then."""
        from mnemo.generation.feedback import parse_message_id, turn_of, write_correction

        if thumbs is None and rating is None and not correction:
            raise ConversationError("say something: thumbs up or down, a rating or a correction")
        if save_note and not correction:
            raise ConversationError("a note needs a correction: give its text")
        conversation_id, position = parse_message_id(message_id)
        turn = turn_of(self.catalog, conversation_id, position)
        saved = self.add_feedback(
            conversation_id,
            position,
            thumbs=thumbs,
            rating=rating,
            correction=correction,
            key_id=key_id,
        )
        if not save_note:
            return saved, None
        assert correction is not None
        collection = self.conversation(conversation_id).collection
        note = write_correction(self.settings, collection, turn.question, correction)
        self.add([note], collection=collection)
        return saved, note

    def feedback_entries(self, *, collection: str | None = None) -> list[FeedbackEntry]:
        """Every judgement (of one collection, or all) with the question and answer."""
        from mnemo.generation.feedback import entries

        return entries(self.catalog, collection)
    # -- research mode and long-term memory ---------------------------------------------

    def research(
        self,
        question: str | None,
        *,
        collection: str | None = None,
        use_llm: bool | None = None,
        key_id: int | None = None,
        on_event: ResearchEventHandler | None = None,
        run_id: str | None = None,
        interrupt_after: Sequence[str] = (),
        conversation_id: str | None = None,
    ) -> ResearchAnswer:
        """Answer a hard question by planning, retrieving with tools, grading, synthesising
        and verifying (:mod:`mnemo.agents.graph`); with ``run_id``, resume that run from
        its checkpoint. ``use_llm`` as for :meth:`ask`; memory is scoped to ``key_id``.
        In a conversation, a follow-up is read in the light of its earlier turns (summarised
        beyond ``research.history_tokens``) and the answer is recorded as its next turn."""
        from mnemo.agents.graph import research

        name = self._name(collection)
        self.collection(name)  # CollectionError naming the known ones
        history = (
            [(t.query or t.question, t.answer) for t in self.turns(conversation_id)]
            if conversation_id
            else []
        )
        llm = self.llm(use_llm)
        largest_first = getattr(llm, "largest_first", None)
        if self.settings.router.documents_to_largest and callable(largest_first):
            llm = largest_first()  # research reads many passages: the largest context first
        result = research(
            self,
            question,
            collection=name,
            llm=llm,
            key_id=key_id,
            on_event=on_event,
            run_id=run_id,
            interrupt_after=interrupt_after,
            history=history,
        )
        if conversation_id and not result.interrupted:
            from mnemo.generation import conversations

            result.answer.turn = conversations.record(self.catalog, conversation_id, result.answer)
            result.answer.conversation_id = conversation_id
        return result

    def links(self, name: str, *, collection: str | None = None) -> NoteLinks:
        """A note's links (wikilinks, Markdown links, embeds and citations, resolved the
        way Obsidian resolves them), the notes they name that do not exist, and its
        backlinks: from the note graph (the research agent's "follow links")."""
        from mnemo.catalog.links import NoteLinks

        found = self.related(name, collection=collection)
        return NoteLinks(
            document_id=found.document_id,
            path=found.path,
            links=list(dict.fromkeys(c.path for c in found.links)),
            unresolved=list(found.missing),
            backlinks=list(dict.fromkeys(c.path for c in found.backlinks)),
        )

    def remember(
        self,
        text: str,
        *,
        collection: str | None = None,
        key_id: int | None = None,
        said_in: str = "cli",
    ) -> MemoryInfo:
        """Keep a fact or preference for later answers in this collection (and key)."""
        from mnemo.catalog.memory import add_memory

        with self.catalog.session() as session:
            coll = get_collection(session, self._name(collection), create=True)
            return add_memory(session, coll, text, key_id=key_id, said_in=said_in)

    def memories(
        self, *, collection: str | None = None, key_id: int | None = None
    ) -> list[MemoryInfo]:
        """What is remembered in this collection for this key, oldest first."""
        from mnemo.catalog.memory import list_memories

        with self.catalog.session(readonly=True) as session:
            return list_memories(
                session, get_collection(session, self._name(collection)), key_id=key_id
            )

    def recall(
        self, question: str, *, collection: str | None = None, key_id: int | None = None
    ) -> list[MemoryInfo]:
        """The memories of this collection and key that share words with ``question``."""
        from mnemo.generation.followup import content_words

        words = set(content_words(question))
        return [
            m
            for m in self.memories(collection=collection, key_id=key_id)
            if words & set(content_words(m.text))
        ]

    def edit_memory(
        self, memory_id: int, text: str, *, collection: str | None = None, key_id: int | None = None
    ) -> MemoryInfo:
        from mnemo.catalog.memory import edit_memory

        with self.catalog.session() as session:
            coll = get_collection(session, self._name(collection))
            return edit_memory(session, coll, memory_id, text, key_id=key_id)

    def forget(
        self, memory_id: int, *, collection: str | None = None, key_id: int | None = None
    ) -> MemoryInfo:
        """Forget one memory; MemoryNotFoundError when this collection and key have none."""
        from mnemo.catalog.memory import forget_memory

        with self.catalog.session() as session:
            coll = get_collection(session, self._name(collection))
            return forget_memory(session, coll, memory_id, key_id=key_id)

    # -- the note graph, insights and export (mnemo.graph, mnemo.insights, mnemo.transfer) --

    def related(self, name: str, *, collection: str | None = None, limit: int = 20) -> Any:
        """A document's links, backlinks, shared tags and close notes not linked yet,
        each with why (:class:`mnemo.graph.related.Related`)."""
        from mnemo.graph.related import related

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            return related(session, self._resolve(session, coll, name), limit=limit)

    def graph(self, *, collection: str | None = None, tags: bool = False) -> Any:
        """The collection's graph as a networkx MultiDiGraph (documents, missing notes)."""
        from mnemo.graph.network import build_graph

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            return build_graph(session, coll.id, tags=tags)

    def export_graph(self, fmt: str = "graphml", *, collection: str | None = None) -> str:
        """The collection's graph as GraphML or node-link JSON text."""
        from mnemo.graph.network import GRAPH_FORMATS, write_graph

        if fmt not in GRAPH_FORMATS:
            raise ConfigError(f"unknown graph format {fmt!r}: choose one of {', '.join(GRAPH_FORMATS)}")
        return write_graph(self.graph(collection=collection, tags=True), fmt)

    def rebuild_graph(self, *, collection: str | None = None) -> int:
        """Work out every edge of the collection again (after an upgrade); returns the count."""
        from mnemo.ingest.edges import update_edges
        from mnemo.ingest.neighbours import update_neighbours

        with self.catalog.session() as session:
            coll = get_collection(session, self._name(collection))
            done = update_edges(session, coll.id, (), everything=True)
            return done.edges + update_neighbours(session, coll.id, None)

    def near_duplicates(self, *, collection: str | None = None) -> list[Any]:
        """Pairs of near-duplicate documents (MinHash), most similar first."""
        from mnemo.insights.duplicates import near_duplicates

        with self.catalog.session(readonly=True) as session:
            return near_duplicates(session, get_collection(session, self._name(collection)).id)

    def topics(self, *, collection: str | None = None, named: bool | None = None) -> list[Any]:
        """The collection's topics: graph communities labelled by their keywords, or by
        a short name from the language model when one is configured (``named`` None)
        or asked for (True); keywords again when the model fails."""
        from mnemo.insights.topics import name_topics, topics

        with self.catalog.session(readonly=True) as session:
            found = topics(session, get_collection(session, self._name(collection)).id)
        llm = self.llm(named)
        if llm is None or not found:
            return found
        cache = self.__dict__.setdefault("_topic_names", {})
        return name_topics(found, llm, cache)

    def digest(self, since: Any, *, collection: str | None = None, store: bool = False) -> Any:
        """What changed since ``since`` (a datetime), by topic, with what it connects to;
        missing notes, near-duplicates, orphans. ``store`` keeps it in the catalog."""
        from dataclasses import asdict

        from mnemo.catalog.models import Digest as Stored
        from mnemo.insights.digest_report import digest

        name = self._name(collection)
        with self.catalog.session() as session:
            coll = get_collection(session, name)
            found = digest(session, coll.id, name, since)
            if store:
                import json

                body = json.loads(json.dumps(asdict(found), default=str))
                session.add(Stored(collection_id=coll.id, since=found.since, body=body))
            return found

    def stored_digests(self, *, collection: str | None = None, limit: int = 10) -> list[Any]:
        """Digests `mnemo serve` stored, newest first."""
        from mnemo.catalog.models import Digest as Stored

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            rows = session.scalars(select(Stored).where(Stored.collection_id == coll.id)
                                   .order_by(Stored.created_at.desc()).limit(limit))
            return [{"created_at": r.created_at, "since": r.since, "body": r.body} for r in rows]

    def resurface(self, *, collection: str | None = None, today: Any = None) -> list[Any]:
        """Notes from this day in earlier years, and notes related to what was asked about lately."""
        from datetime import date

        from mnemo.insights.resurface import resurface

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
            return resurface(session, coll.id, today or date.today())

    def export_collection(self, archive: Path | str, *, collection: str | None = None) -> dict[str, int]:
        """Write a whole collection (catalog rows, vectors, conversations, edges, settings
        file) to one zip archive; returns rows per table."""
        from mnemo import __version__
        from mnemo.catalog.db import schema_revision
        from mnemo.config.settings import SETTINGS_FILE
        from mnemo.transfer.archive import export_collection, export_web_copies

        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, self._name(collection))
        counts = export_collection(self.catalog, coll.id, schema_revision(self.catalog.engine),
                                   Path(self.settings.home) / SETTINGS_FILE, Path(archive), __version__)
        with self.catalog.session(readonly=True) as session:
            metas = session.scalars(select(Document.meta).where(Document.collection_id == coll.id)).all()
        stored = {((m or {}).get("web") or {}).get("stored") for m in metas} - {None}
        export_web_copies(Path(archive), sorted(stored), Path(self.settings.home) / "web")
        return counts

    def import_collection(self, archive: Path | str, *, name: str | None = None,
                          settings: bool = True) -> tuple[str, dict[str, int], str | None]:
        """Read an archive of :meth:`export_collection` in as a new collection (its own
        name unless ``name``), then write its search index from the imported rows.
        The archived settings file is written to the home unless ``settings`` is False
        (an upload over HTTP: its settings are not trusted).
        Returns (collection, rows per table, where the archived settings went)."""
        import json
        import zipfile

        from alembic.script import ScriptDirectory

        from mnemo.catalog.db import alembic_config, schema_revision
        from mnemo.config.settings import SETTINGS_FILE
        from mnemo.index.updater import IndexUpdater
        from mnemo.transfer.archive import import_collection, import_web_copies, read_manifest

        path = Path(archive)
        read_manifest(path)
        if name is None:
            from mnemo.transfer.archive import ArchiveError

            try:
                with zipfile.ZipFile(path) as src:
                    first = src.read("tables/collections.jsonl").decode().splitlines()[0]
                name = str(json.loads(first)["name"])
            except (KeyError, IndexError, ValueError, TypeError):
                raise ArchiveError(f"{path}: it holds no collection") from None
        script = ScriptDirectory.from_config(alembic_config(self.catalog.engine))
        known = [r.revision for r in script.walk_revisions()]
        _, counts, settings_text = import_collection(
            self.catalog, path, name, schema_revision(self.catalog.engine), known
        )
        where = None
        if settings_text is not None and settings:
            target = Path(self.settings.home) / SETTINGS_FILE
            if target.exists() and target.read_text(encoding="utf-8") != settings_text:
                target = target.with_name("mnemo.imported.toml")
            if not target.exists() or target.name == "mnemo.imported.toml":
                target.write_text(settings_text, encoding="utf-8")
            where = str(target)
        import_web_copies(path, Path(self.settings.home) / "web")
        with self.catalog.session(readonly=True) as session:
            coll = get_collection(session, name)
        IndexUpdater(self.settings, self.catalog, coll).rebuild()
        return name, counts, where

    def answer_note(self, answer: Any, folder: Path | str) -> Path:
        """Write an :class:`~mnemo.generation.types.Answer` as an Obsidian note in
        ``folder``, its citations linking back to the sources; returns the note's path."""
        from mnemo.transfer.notes import passage_source, render_note, write_note

        target = Path(folder).expanduser()
        sources = [passage_source(p) for p in answer.sources]
        text = render_note(answer.question, [(answer.question, answer.text, str(answer.kind), sources)],
                           target, collection=self._name(None))
        return write_note(target, answer.question, text)

    def conversation_note(self, conversation_id: str, folder: Path | str) -> Path:
        """Write a conversation as an Obsidian note in ``folder``; returns its path."""
        from mnemo.generation import conversations
        from mnemo.transfer.notes import render_note, write_note

        info = conversations.info(self.catalog, conversation_id)
        turns = conversations.history(self.catalog, conversation_id)
        target = Path(folder).expanduser()
        text = render_note(
            info.title or "Conversation",
            [(t.question, t.answer, t.kind, [s for s in (t.sources or []) if isinstance(s, dict)])
             for t in turns],
            target, created=info.created_at, collection=info.collection,
        )
        return write_note(target, info.title or "Conversation", text)

    def graph_drawing(self, *, around: str | None = None, depth: int = 1,
                      collection: str | None = None) -> dict[str, Any]:
        """Nodes and edges for the web app's graph view: the whole collection (its best
        connected documents) or the neighbourhood of the document ``around`` names."""
        from mnemo.graph.view import drawing

        graph = self.graph(collection=collection)
        node = None
        if around is not None:
            with self.catalog.session(readonly=True) as session:
                coll = get_collection(session, self._name(collection))
                node = self._resolve(session, coll, around).id
        return drawing(graph, around=node, depth=depth)

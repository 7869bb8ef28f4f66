"""What research mode needs from the Library: the core's operations, as a Protocol.

``mnemo.library`` sits above this package, so the agent cannot import it; the
Library passes itself in, and this protocol names the methods the tools call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mnemo.catalog import Chunk
    from mnemo.catalog.links import NoteLinks
    from mnemo.catalog.memory import MemoryInfo
    from mnemo.catalog.summary import DocumentInfo, DocumentPage
    from mnemo.config import Settings
    from mnemo.generation.base import LLM
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.filters import Filters
    from mnemo.retrieval.search import SearchHit, SearchResponse


class ResearchLibrary(Protocol):
    settings: Settings

    def search(
        self,
        query: str,
        *,
        collection: str | None = None,
        k: int = 10,
        mode: str | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> SearchResponse: ...

    def context(
        self,
        hits: Sequence[SearchHit],
        *,
        collection: str | None = None,
        max_tokens: int = 2000,
        neighbours: int = 1,
    ) -> list[ContextPassage]: ...

    def document(
        self, name: str, *, collection: str | None = None
    ) -> tuple[DocumentInfo, list[Chunk]]: ...

    def document_page(
        self,
        *,
        collection: str | None = None,
        state: str | None = None,
        contains: str | None = None,
        sort: str = "path",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> DocumentPage: ...

    def links(self, name: str, *, collection: str | None = None) -> NoteLinks: ...

    def recall(
        self, question: str, *, collection: str | None = None, key_id: int | None = None
    ) -> list[MemoryInfo]: ...

    def remember(
        self,
        text: str,
        *,
        collection: str | None = None,
        key_id: int | None = None,
        said_in: str = "cli",
    ) -> MemoryInfo: ...

    def llm(self, use: bool | None = None) -> LLM | None: ...

"""Mnemo: a self-hosted second brain that cites its sources.

The public Python API. ``_PUBLIC`` is the one list of it: ``__all__`` is made
from it, names load from their modules on first use (so ``import mnemo``
stays fast), and a test keeps the ``TYPE_CHECKING`` imports below, for type
checkers, equal to it.

:class:`Library` is the core: it owns a data directory's catalog, index and
models for a span of work. The functions (``mnemo.search`` ...) are one-call
conveniences over a short-lived Library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Library": "mnemo.library",
    "Settings": "mnemo.config",
    "load_settings": "mnemo.config",
    "MnemoError": "mnemo.errors",
    "RunReport": "mnemo.report",
    "Filters": "mnemo.retrieval.filters",
    "SearchHit": "mnemo.retrieval.search",
    "SearchResponse": "mnemo.retrieval.search",
    "ContextPassage": "mnemo.retrieval.context",
    "Answer": "mnemo.generation.types",
    "Citation": "mnemo.generation.types",
    "DocumentState": "mnemo.catalog.documents",
    "add": "mnemo.api",
    "sync": "mnemo.api",
    "search": "mnemo.api",
    "ask": "mnemo.api",
    "assemble_context": "mnemo.api",
    "status": "mnemo.api",
    "documents": "mnemo.api",
    "document": "mnemo.api",
    "remove_document": "mnemo.api",
    "sources": "mnemo.api",
    "remove_source": "mnemo.api",
    "reindex": "mnemo.api",
    "create_collection": "mnemo.api",
    "rename_collection": "mnemo.api",
    "delete_collection": "mnemo.api",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:
    from mnemo.api import (
        add,
        ask,
        assemble_context,
        create_collection,
        delete_collection,
        document,
        documents,
        reindex,
        remove_document,
        remove_source,
        rename_collection,
        search,
        sources,
        status,
        sync,
    )
    from mnemo.catalog.documents import DocumentState
    from mnemo.config import Settings, load_settings
    from mnemo.errors import MnemoError
    from mnemo.generation.types import Answer, Citation
    from mnemo.library import Library
    from mnemo.report import RunReport
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.filters import Filters
    from mnemo.retrieval.search import SearchHit, SearchResponse


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mnemo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), *__all__]

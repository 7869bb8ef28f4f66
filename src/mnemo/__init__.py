"""Mnemo: a self-hosted second brain that cites its sources.

The public Python API. Heavy modules load on first use, so ``import mnemo``
stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Citation",
    "ContextPassage",
    "Filters",
    "MnemoError",
    "RunReport",
    "SearchHit",
    "SearchResponse",
    "Settings",
    "add",
    "ask",
    "assemble_context",
    "documents",
    "load_settings",
    "reindex",
    "remove_source",
    "search",
    "sources",
    "status",
    "sync",
]

_LAZY = {
    "Answer": "mnemo.generation.types",
    "Citation": "mnemo.generation.types",
    "ask": "mnemo.api",
    "ContextPassage": "mnemo.retrieval.context",
    "assemble_context": "mnemo.retrieval.context",
    "Filters": "mnemo.retrieval.filters",
    "MnemoError": "mnemo.errors",
    "SearchHit": "mnemo.retrieval.search",
    "SearchResponse": "mnemo.retrieval.search",
    "reindex": "mnemo.api",
    "search": "mnemo.api",
    "RunReport": "mnemo.ingest.report",
    "Settings": "mnemo.config",
    "load_settings": "mnemo.config",
    "add": "mnemo.api",
    "documents": "mnemo.api",
    "remove_source": "mnemo.api",
    "sources": "mnemo.api",
    "status": "mnemo.api",
    "sync": "mnemo.api",
}

if TYPE_CHECKING:
    from mnemo.api import (
        add,
        ask,
        documents,
        reindex,
        remove_source,
        search,
        sources,
        status,
        sync,
    )
    from mnemo.config import Settings, load_settings
    from mnemo.errors import MnemoError
    from mnemo.generation.types import Answer, Citation
    from mnemo.ingest.report import RunReport
    from mnemo.retrieval.context import ContextPassage, assemble_context
    from mnemo.retrieval.filters import Filters
    from mnemo.retrieval.search import SearchHit, SearchResponse


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mnemo' has no attribute {name!r}")

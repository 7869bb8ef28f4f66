"""The search index beside the catalog (LanceDB, embedded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnemo.index.base import Hit, Store

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.index.lance import LanceStore


def open_store(settings: Settings, collection: str) -> LanceStore:
    from mnemo.index.lance import LanceStore

    return LanceStore(settings.index_path / collection)


__all__ = ["Hit", "Store", "open_store"]

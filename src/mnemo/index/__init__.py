"""The search index beside the catalog (LanceDB, embedded)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.index.base import Hit, Store

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.index.lance import LanceStore

_readers: dict[Path, LanceStore] = {}
_lock = threading.Lock()


def open_store(settings: Settings, collection: str) -> LanceStore:
    """A fresh handle on a collection's index, for writing."""
    from mnemo.index.lance import LanceStore

    return LanceStore(settings.index_path / collection)


def reader(settings: Settings, collection: str) -> LanceStore:
    """A handle kept open between searches in this process (opening the tables
    costs more than a search). It checks for newer table versions on every
    read, so writes from other handles and processes show at once."""
    from mnemo.index.lance import LanceStore

    root = (settings.index_path / collection).resolve()
    with _lock:
        store = _readers.get(root)
        if store is None:
            store = _readers[root] = LanceStore(root, consistency=timedelta(0))
        return store


def forget_reader(settings: Settings, collection: str) -> None:
    """Drop the kept handle (after an error: the tables may have been replaced)."""
    with _lock:
        _readers.pop((settings.index_path / collection).resolve(), None)


__all__ = ["Hit", "Store", "forget_reader", "open_store", "reader"]

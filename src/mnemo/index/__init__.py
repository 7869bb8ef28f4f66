"""The search index beside the catalog: the store ``index.backend`` names
(LanceDB, embedded, unless a ``mnemo.stores`` plugin adds another)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.index.base import Hit, Store
from mnemo.registry import STORES

if TYPE_CHECKING:
    from mnemo.config import Settings

StoreFactory = Callable[..., Store]
_readers: dict[tuple[str, Path], Store] = {}
_lock = threading.Lock()


def register(name: str, factory: StoreFactory) -> None:
    """Make ``index.backend = name`` open stores with ``factory(settings, collection, reader=)``."""
    STORES.register(name, factory)


def open_store(settings: Settings, collection: str) -> Store:
    """A fresh handle on a collection's index, for writing."""
    factory: StoreFactory = STORES.get(settings.index.backend)
    return factory(settings, collection, reader=False)


def reader(settings: Settings, collection: str) -> Store:
    """A handle kept open between searches in this process (opening the tables
    costs more than a search). It checks for newer versions on every read, so
    writes from other handles and processes show at once."""
    slot = _slot(settings, collection)
    with _lock:
        store = _readers.get(slot)
        if store is None:
            factory: StoreFactory = STORES.get(settings.index.backend)
            store = _readers[slot] = factory(settings, collection, reader=True)
        return store


def forget_reader(settings: Settings, collection: str) -> None:
    """Drop the kept handle (after an error: the tables may have been replaced)."""
    with _lock:
        _readers.pop(_slot(settings, collection), None)


def _slot(settings: Settings, collection: str) -> tuple[str, Path]:
    return settings.index.backend, (settings.index_path / collection).resolve()


__all__ = ["Hit", "Store", "forget_reader", "open_store", "reader", "register"]

"""The search index beside the catalog: the store ``index.backend`` names
(LanceDB, embedded, unless a ``mnemo.stores`` plugin adds another)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.index.base import Hit, Store
from mnemo.registry import STORES

if TYPE_CHECKING:
    from mnemo.config import Settings

StoreFactory = Callable[..., Store]
_readers: dict[tuple[str, Path], tuple[Store, float]] = {}
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
    writes from other handles and processes show at once.

    A handle caches what it has read of old versions, and those are deleted
    ``index.keep_versions_minutes`` after newer ones appear; so a handle is
    renewed after that long (and by every run of this process that writes the
    index), which lets go of the deleted files and their memory.
    """
    slot = _slot(settings, collection)
    now = time.monotonic()
    renew_after = max(60.0, settings.index.keep_versions_minutes * 60)
    with _lock:
        kept = _readers.get(slot)
        if kept is None or now - kept[1] > renew_after:
            factory: StoreFactory = STORES.get(settings.index.backend)
            kept = _readers[slot] = (factory(settings, collection, reader=True), now)
        return kept[0]


def forget_reader(settings: Settings, collection: str) -> None:
    """Drop the kept handle (after an error: the tables may have been replaced)."""
    with _lock:
        _readers.pop(_slot(settings, collection), None)


def _slot(settings: Settings, collection: str) -> tuple[str, Path]:
    return settings.index.backend, (settings.index_path / collection).resolve()


__all__ = ["Hit", "Store", "forget_reader", "open_store", "reader", "register"]

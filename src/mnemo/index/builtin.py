"""The built-in index store, registered the way a ``mnemo.stores`` plugin registers.

A store factory is called as ``factory(settings, collection, reader=...)`` and
returns a :class:`~mnemo.index.base.Store` for that collection. ``reader=True``
asks for the handle kept open between searches: it must see writes made by other
handles and processes at once. ``reader=False`` asks for a handle that writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.index.base import Store


def lancedb(settings: Settings, collection: str, *, reader: bool) -> Store:
    from mnemo.index.lance import LanceStore

    root = settings.index_path / collection
    if reader:
        return LanceStore(root.resolve(), consistency=timedelta(0))
    return LanceStore(root)


def milvus(settings: Settings, collection: str, *, reader: bool) -> Store:
    """Milvus at ``index.milvus_uri``; Milvus Lite in ``<home>/index/milvus.db`` by default.

    Reads are strongly consistent, so ``reader=True`` needs nothing more."""
    from mnemo.index.milvus import MilvusStore

    cfg = settings.index
    uri = cfg.milvus_uri or str(settings.index_path / "milvus.db")
    return MilvusStore(
        uri,
        collection,
        token=cfg.milvus_token.get_secret_value() if cfg.milvus_token else None,
        prefix=cfg.milvus_prefix,
        index_type=cfg.milvus_index_type,
        index_params=cfg.milvus_index_params,
        search_params=cfg.milvus_search_params,
    )


def register(register: Callable[[str, Callable[..., Store]], None]) -> None:
    register("lancedb", lancedb)
    register("milvus", milvus)

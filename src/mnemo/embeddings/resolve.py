"""From settings (or a collection's stored record) to a loaded embedder.

A collection stores how its embedder was configured, secrets left out, so the
embedder that made its vectors can be built again to embed queries, even after
the settings name another one. Loaded embedders are kept per process.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from mnemo.config import Settings
from mnemo.embeddings import Embedder, create
from mnemo.errors import ConfigError, EmbeddingError, MnemoError

if TYPE_CHECKING:
    from mnemo.catalog import Catalog

NONE = "none"
_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def configured(settings: Settings) -> dict[str, Any] | None:
    """The settings' embedder as a storable record; None when embedding is off."""
    cfg = settings.embedding
    if cfg.backend == NONE:
        return None
    if cfg.backend == "openai-compatible":
        if not cfg.model or not cfg.base_url:
            raise ConfigError(
                "embedding: the openai-compatible backend needs embedding.model and "
                "embedding.base_url (e.g. http://localhost:11434/v1)"
            )
        return {"backend": cfg.backend, "model": cfg.model, "base_url": cfg.base_url}
    record: dict[str, Any] = {"backend": cfg.backend, "model": cfg.model}
    if cfg.backend in ("onnx", "sentence-transformers"):
        record["quantize"] = cfg.quantize
    return record


def load(record: dict[str, Any], settings: Settings) -> Embedder:
    """The embedder a record describes (built once per process)."""
    cache_key = json.dumps(record, sort_keys=True)
    with _lock:
        if cache_key in _loaded:
            return _loaded[cache_key]
        options = {k: v for k, v in record.items() if k != "backend"}
        options["batch_size"] = settings.embedding.batch_size
        try:
            embedder = create(record["backend"], settings=settings, **options)
        except MnemoError:
            raise
        except TypeError as exc:
            raise ConfigError(f"embedding: bad options for {record['backend']} ({exc})") from exc
        except Exception as exc:  # a plugin backend's own failure
            raise EmbeddingError(f"embedding: cannot load {record['backend']} ({exc})") from exc
        _loaded[cache_key] = embedder
        return embedder


def active_embedder(settings: Settings, catalog: Catalog, collection_id: int) -> Embedder | None:
    """The embedder whose vectors serve a collection's dense search; None if it has none.

    Raises MnemoError when it cannot be loaded, or now loads as another model
    than the one that made the vectors.
    """
    from sqlalchemy import select

    from mnemo.catalog.models import CollectionEmbedder

    with catalog.session(readonly=True) as session:
        active = session.scalar(
            select(CollectionEmbedder).where(
                CollectionEmbedder.collection_id == collection_id,
                CollectionEmbedder.state == "active",
            )
        )
        if active is None:
            return None
        record, key = dict(active.config), active.key
    return load_matching(record, key, settings)


def load_matching(record: dict[str, Any], key: str, settings: Settings) -> Embedder:
    """The embedder ``record`` describes, checked to be the one whose key is ``key``."""
    embedder = load(record, settings)
    if embedder.identity.key != key:
        raise MnemoError(
            f"the embedder now loads as {embedder.identity.key}, not {key} "
            "which made the vectors; run `mnemo sync` to re-embed"
        )
    return embedder

"""Embedders behind one interface, chosen by name from a registry.

Built-in backends register themselves with :func:`register`, the same call a
plugin makes; :func:`create` builds the one the settings name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnemo.embeddings.base import Embedder, EmbedderIdentity
from mnemo.errors import ConfigError

Factory = Callable[..., Embedder]
_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    _FACTORIES[name] = factory


def _sentence_transformers(**options: Any) -> Embedder:
    from mnemo.embeddings.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(**options)


def _openai_compatible(**options: Any) -> Embedder:
    from mnemo.embeddings.openai_compatible import OpenAICompatibleEmbedder

    return OpenAICompatibleEmbedder(**options)


register("sentence-transformers", _sentence_transformers)
register("openai-compatible", _openai_compatible)


def create(backend: str, **options: Any) -> Embedder:
    """The embedder ``backend`` (a registered name), built with ``options``."""
    try:
        factory = _FACTORIES[backend]
    except KeyError:
        choices = ", ".join(sorted(_FACTORIES))
        raise ConfigError(f"embedding.backend: unknown {backend!r}; choose one of {choices}") from None
    return factory(**options)


__all__ = ["Embedder", "EmbedderIdentity", "create", "register"]

"""Embedders behind one interface, chosen by name from a registry.

The registry is :data:`mnemo.registry.EMBEDDERS`: the built-ins
(:mod:`mnemo.embeddings.builtin`) and ``mnemo.embedders`` entry-point plugins
register through the same :func:`register`; :func:`create` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnemo.embeddings.base import Embedder, EmbedderIdentity
from mnemo.registry import EMBEDDERS

Factory = Callable[..., Embedder]


def register(name: str, factory: Factory) -> None:
    """Make ``embedding.backend = name`` build with ``factory(settings=..., **options)``."""
    EMBEDDERS.register(name, factory)


def names() -> list[str]:
    return EMBEDDERS.names()


def create(backend: str, **options: Any) -> Embedder:
    """The embedder ``backend`` (a registered name), built with ``options``."""
    factory: Factory = EMBEDDERS.get(backend)
    return factory(**options)


__all__ = ["Embedder", "EmbedderIdentity", "create", "names", "register"]

"""The built-in rerankers, registered the way a ``mnemo.rerankers`` plugin registers.

A reranker factory takes the settings and returns a
:class:`~mnemo.retrieval.rerank.Reranker`, or None when reranking is off. It is
called for every search, so it must be cheap: load a model on the first
``score`` call, not in the factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.retrieval.rerank import Reranker


def cross_encoder(settings: Settings) -> Reranker | None:
    """The cross-encoder in ``search.rerank_model``; off while that is unset."""
    from mnemo.retrieval.rerank import CrossEncoderReranker

    path = settings.search.rerank_model
    if path is None:
        return None
    return CrossEncoderReranker(path, settings.embedding.device)


def none(settings: Settings) -> None:
    return None


def register(register: Callable[[str, Callable[[Settings], Reranker | None]], None]) -> None:
    register("cross-encoder", cross_encoder)
    register("none", none)

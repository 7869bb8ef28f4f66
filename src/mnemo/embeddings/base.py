"""The embedder interface: texts in, unit-length float32 vectors out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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


def folder_revision(folder: Path) -> str:
    """A cheap fingerprint of a model folder: its small files' bytes, its weights' sizes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        digest.update(str(path.relative_to(folder)).encode())
        if path.suffix in (".json", ".txt"):
            digest.update(path.read_bytes())
        else:
            digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:12]

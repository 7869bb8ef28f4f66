"""Any OpenAI-compatible ``/v1/embeddings`` endpoint: Ollama, vLLM, TEI, OpenAI."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mnemo.embeddings.base import EmbedderIdentity
from mnemo.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

BACKEND = "openai-compatible"


class EmbeddingServiceError(EmbeddingError):
    """The embedding endpoint could not be reached or refused the request."""


class OpenAICompatibleEmbedder:
    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        batch_size: int = 64,
        max_tokens: int = 512,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # The SDK retries connection errors, 408/409/429 and 5xx with backoff.
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
        )
        probe = self._request(["dimension probe"])
        endpoint = hashlib.sha256(self.base_url.encode()).hexdigest()[:8]
        self.identity = EmbedderIdentity(
            backend=BACKEND, model=model, dimension=probe.shape[1], revision=f"endpoint-{endpoint}"
        )

    def _request(self, texts: list[str]) -> np.ndarray:
        import numpy as np
        import openai

        try:
            response = self._client.embeddings.create(model=self.model, input=texts)
        except openai.APIConnectionError as exc:
            raise EmbeddingServiceError(
                f"embedding endpoint {self.base_url} is unreachable ({exc}); "
                "start the server or fix embedding.base_url"
            ) from exc
        except openai.APIStatusError as exc:
            raise EmbeddingServiceError(
                f"embedding endpoint {self.base_url} answered {exc.status_code} for model "
                f"{self.model!r}: {exc.message}"
            ) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EmbeddingServiceError(
                f"embedding endpoint {self.base_url} returned {len(rows)} vectors for {len(texts)} texts"
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        batches = [
            # Servers reject empty strings; a space embeds as "nothing".
            self._request([t or " " for t in texts[i : i + self.batch_size]])
            for i in range(0, len(texts), self.batch_size)
        ]
        if not batches:
            return np.zeros((0, self.identity.dimension), dtype=np.float32)
        return np.vstack(batches)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

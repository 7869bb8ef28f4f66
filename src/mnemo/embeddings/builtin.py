"""The built-in embedders, registered the way a ``mnemo.embedders`` plugin registers.

A factory is called with the options a collection stored for its embedder (see
:func:`mnemo.embeddings.resolve.configured`) plus ``batch_size``, and with
``settings`` when it runs from the settings (``None`` when a caller builds an
embedder by hand): a backend reads there what it does not store, such as a
device or a key. The backend module is imported only when the factory runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mnemo.errors import ConfigError

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.embeddings.base import Embedder


def sentence_transformers(*, settings: Settings | None = None, **options: Any) -> Embedder:
    from mnemo.embeddings.sentence_transformers import SentenceTransformerEmbedder

    if settings is not None:
        options.setdefault("device", settings.embedding.device)
    return SentenceTransformerEmbedder(**options)


def onnx(*, settings: Settings | None = None, **options: Any) -> Embedder:
    from mnemo.config.settings import model_cache
    from mnemo.embeddings.onnx import OnnxEmbedder

    if settings is not None:
        options.setdefault("threads", settings.embedding.threads)
    options.setdefault("cache", model_cache(settings))
    return OnnxEmbedder(**options)


def openai_compatible(*, settings: Settings | None = None, **options: Any) -> Embedder:
    from mnemo.embeddings.openai_compatible import OpenAICompatibleEmbedder

    if settings is not None:
        cfg = settings.embedding
        # The key goes only to the server the settings name, never to another
        # server a collection's stored record points at.
        if cfg.api_key is not None and options.get("base_url") == cfg.base_url:
            options.setdefault("api_key", cfg.api_key.get_secret_value())
    return OpenAICompatibleEmbedder(**options)


def none(*, settings: Settings | None = None, **options: Any) -> Embedder:
    raise ConfigError("embedding.backend is none: embedding is off, so there is no embedder")


def register(register: Callable[[str, Callable[..., Embedder]], None]) -> None:
    register("onnx", onnx)
    register("sentence-transformers", sentence_transformers)
    register("openai-compatible", openai_compatible)
    register("none", none)

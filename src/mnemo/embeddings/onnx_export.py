"""A transformer model folder exported to ONNX once, into the user's cache.

The packaged all-MiniLM-L6-v2 ships as PyTorch weights (safetensors). The first
time the ONNX backend needs it, this module exports it with PyTorch's exporter
(a few seconds), checks the export against PyTorch on probe sentences, and
keeps ``model.onnx`` and a copy of ``tokenizer.json`` in
``<cache>/<name>-<revision>/``; later runs load that folder and never import
PyTorch. With ``int8`` the export is then quantised: dynamic int8, per output
channel, on the weight matrices only (attention's activation products stay
fp32), with 7-bit weights so AVX2 CPUs without VNNI do not saturate (measured
on 300 real chunks: mean cosine to fp32 0.992, where the plain defaults gave
0.948).
Concurrent processes export once: the others wait on a lock and reuse it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from mnemo.errors import ConfigError

INFO_FILE = "mnemo-onnx.json"
#: Sentences the export is checked on (cosine to PyTorch's vectors, each).
PROBES = (
    "The quick brown fox jumps over the lazy dog.",
    "Mnemo indexes a folder of notes and answers questions with citations.",
    "In 1887 the company was founded in Stuttgart; it moved to Berlin in 1902.",
)
MIN_COSINE = 0.999
#: The same for the int8 export: the probes measured 0.99 and above.
MIN_COSINE_INT8 = 0.97
#: Names the quantisation scheme in the cache folder and in the embedder's
#: revision, so vectors made by an earlier scheme are re-embedded, never mixed.
INT8_SCHEME = "int8v2"


def target_folder(cache: Path, name: str, revision: str, *, int8: bool) -> Path:
    return cache / f"{name}-{revision}{'-' + INT8_SCHEME if int8 else ''}"


def exported(source: Path, cache: Path, name: str, revision: str, *, int8: bool) -> Path:
    """The cached ONNX folder for ``source``, exporting it first if it is not there."""
    from filelock import FileLock

    target = target_folder(cache, name, revision, int8=int8)
    if (target / INFO_FILE).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / INFO_FILE).is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cache))
        try:
            _export(source, staging, int8=int8)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(source: Path, out: Path, *, int8: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ConfigError(
            f"embedding: exporting {source} to ONNX needs PyTorch and transformers "
            f"({exc}); install them, or give embedding.model an ONNX model folder"
        ) from exc

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        model = AutoModel.from_pretrained(str(source), local_files_only=True)
    except Exception as exc:  # transformers raises many types for bad folders
        raise ConfigError(f"embedding.model: cannot load {source} ({exc})") from exc
    model.eval()
    wrapped = _wrapped(model)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.ones(2, 16, dtype=torch.long)
    fp32 = out / "model.fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns it is deprecated
        torch.onnx.export(
            wrapped,
            (ids, ids, torch.zeros_like(ids)),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser logs advice on the root logger
        try:
            quantize_dynamic(
                str(fp32),
                str(out / "model.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
                extra_options={"MatMulConstBOnly": True},
            )
        finally:
            root.setLevel(level)
        fp32.unlink()
    else:
        fp32.rename(out / "model.onnx")
    # Checked against a fresh copy: tracing leaves the exported module altered.
    worst = _check(
        AutoModel.from_pretrained(str(source), local_files_only=True).eval(), out, int8=int8
    )
    info = {"source": str(source), "int8": int8, "min_probe_cosine": round(worst, 6)}
    (out / INFO_FILE).write_text(json.dumps(info, indent=2))


def _wrapped(model):  # type: ignore[no-untyped-def]
    """The model with positional inputs and the last hidden state out: what is traced."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return LastHiddenState()


def _check(model, out: Path, *, int8: bool) -> float:  # type: ignore[no-untyped-def]
    """The lowest cosine between PyTorch's and the export's mean-pooled probe vectors."""
    import numpy as np
    import torch

    from mnemo.embeddings.onnx_files import open_session, open_tokenizer

    tokenizer = open_tokenizer(out / "tokenizer.json", "embedding.model", 128)
    encoded = tokenizer.encode_batch(list(PROBES))
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    types = np.zeros_like(ids)
    session = open_session(out / "model.onnx", "embedding.model", 1)
    got = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    with torch.no_grad():
        want = model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            token_type_ids=torch.from_numpy(types),
        ).last_hidden_state.numpy()
    weights = mask[..., None].astype(np.float32)
    a = (got * weights).sum(1)
    b = (want * weights).sum(1)
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    worst = float(cosines.min())
    bound = MIN_COSINE_INT8 if int8 else MIN_COSINE
    if worst < bound:
        raise ConfigError(
            f"embedding: the ONNX export of {out.name} does not match PyTorch (cosine "
            f"{worst:.4f} < {bound}); use embedding.backend = sentence-transformers"
            + (" or embedding.quantize = false" if int8 else "")
        )
    return worst

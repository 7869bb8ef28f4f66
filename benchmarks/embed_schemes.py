"""Microbenchmark: ONNX export schemes of the packaged MiniLM, embedded as Mnemo embeds.

For each scheme, a model folder is built from Mnemo's own fp32 export (made once
into ``--cache``) and loaded with Mnemo's :class:`OnnxEmbedder` (its
length-bucketed batching, batch_size 64, ``threads`` as given). On the same real
passages (title + newline + text from the shared BEIR sets, read in place) it
reports texts/s and CPU seconds (best of ``--rounds``, schemes interleaved so a
change in machine load hits all of them), mean and minimum cosine to fp32, and
batch-determinism: the first 64 texts embedded alone against the same texts
inside the full mixed batch (largest absolute difference of a vector component).

    python benchmarks/embed_schemes.py --data /work/shared/bench/data --texts 512 \
        --cache /tmp/embed-schemes --json out.json
    python benchmarks/embed_schemes.py --texts 128 --cache /tmp/embed-schemes --sensitivity

``--sensitivity`` quantises each weight MatMul alone, int8v2's way, and reports
the cosine to fp32 it costs: which ones ``int8v2-down<N>`` keeps in fp32.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def passages(data: Path, count: int) -> list[str]:
    """``count`` passages, half from msmarco and half from dbpedia, spread over each file."""
    out: list[str] = []
    sets = ["msmarco", "dbpedia"]
    for i, name in enumerate(sets):
        want = count // len(sets) + (1 if i < count % len(sets) else 0)
        # split("\n"), not splitlines(): passages hold Unicode line separators.
        lines = [ln for ln in (data / name / "corpus.jsonl").read_text().split("\n") if ln]
        step = max(1, len(lines) // want)
        for line in lines[::step][:want]:
            row = json.loads(line)
            out.append(f"{row.get('title', '')}\n{row['text']}".strip())
    return out


def _quiet_root() -> Callable[[], None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    return lambda: root.setLevel(level)


def _dynamic(src: Path, dst: Path, **extra: object) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = {
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "reduce_range": True,
        "op_types_to_quantize": ["MatMul"],
        "extra_options": {"MatMulConstBOnly": True},
    }
    options.update(extra)
    restore = _quiet_root()
    try:
        quantize_dynamic(str(src), str(dst), **options)  # type: ignore[arg-type]
    finally:
        restore()


def _nbits(src: Path, dst: Path, *, bits: int, block: int, level: int, sym: bool) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    restore = _quiet_root()
    try:
        quant = MatMulNBitsQuantizer(
            onnx.load(str(src)),
            bits=bits,
            block_size=block,
            is_symmetric=sym,
            accuracy_level=level,
            op_types_to_quantize=("MatMul",),
        )
        quant.process()
        quant.model.save_model_to_file(str(dst), False)
    finally:
        restore()


def _static(src: Path, dst: Path, folder: Path, *, method: str, texts: list[str]) -> None:
    """Static QDQ int8: activation scales fixed by calibration on ``texts`` (deterministic)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()
    feeds = []
    encoded = [tokenizer.encode(text).ids for text in texts]
    # Percentile calibration stacks the feeds, so they must share a shape: pad
    # them (masked) to the longest; min-max takes one unpadded text a feed.
    width = max(map(len, encoded)) if method == "pct" else 0
    for row in encoded:
        ids = np.zeros((1, max(width, len(row))), dtype=np.int64)
        ids[0, : len(row)] = row
        mask = (np.arange(ids.shape[1]) < len(row)).astype(np.int64)[None]
        feeds.append(
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self):  # type: ignore[no-untyped-def]
            return next(self.items, None)

    calibrate = {"minmax": CalibrationMethod.MinMax, "pct": CalibrationMethod.Percentile}[method]
    restore = _quiet_root()
    try:
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=calibrate,
            extra_options={"MatMulConstBOnly": True, "CalibPercentile": 99.99},
        )
    finally:
        restore()


def _smoothed(src: Path, dst: Path, folder: Path, *, alpha: float, data: Path) -> None:
    """The fp32 model with SmoothQuant's per-channel migration before each weight MatMul.

    For each input X read by weight MatMuls: s_j = max|X_j|^alpha / max|W_j|^(1-alpha),
    with max|X_j| from calibration passages; a Mul by 1/s is put before the MatMuls and
    their weight rows are multiplied by s, which leaves the fp32 function unchanged
    and moves activation outliers into the weights before dynamic quantisation.
    """
    import onnx
    import onnxruntime
    from onnx import helper, numpy_helper
    from tokenizers import Tokenizer

    model = onnx.load(str(src))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    readers: dict[str, list[Any]] = {}
    for node in _weight_matmuls(graph):
        readers.setdefault(node.input[0], []).append(node)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in readers:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()
    outputs = [o.name for o in session.get_outputs()]
    peak: dict[str, np.ndarray] = {}
    for text in calibration_texts(data, 128):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        for name, value in zip(outputs, session.run(outputs, feed), strict=True):
            if name in readers:
                channel = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
                peak[name] = np.maximum(peak.get(name, channel), channel)
    muls = []
    for name, nodes in readers.items():
        matrices = [numpy_helper.to_array(weights[n.input[1]]) for n in nodes]
        rows = np.max([np.abs(w).max(axis=1) for w in matrices], axis=0)
        scale = np.clip(peak[name] ** alpha / np.maximum(rows, 1e-8) ** (1 - alpha), 1e-5, None)
        inverse = numpy_helper.from_array((1 / scale).astype(np.float32), f"{name}/smooth")
        graph.initializer.append(inverse)
        muls.append((nodes[0], helper.make_node("Mul", [name, inverse.name], [f"{name}/smoothed"])))
        for node, w in zip(nodes, matrices, strict=True):
            scaled = numpy_helper.from_array((w * scale[:, None]).astype(np.float32), node.input[1])
            weights[node.input[1]].CopyFrom(scaled)
            node.input[0] = f"{name}/smoothed"
    ordered = list(graph.node)
    for first, mul in muls:  # each Mul just before the first MatMul that reads it
        ordered.insert(ordered.index(first), mul)
    del graph.node[:]
    graph.node.extend(ordered)
    onnx.save(model, str(dst))


def calibration_texts(data: Path, count: int = 64) -> list[str]:
    """Passages from rgb-en-fact: real text, none of it in the retrieval sets."""
    out: list[str] = []
    for line in filter(None, (data / "rgb-en-fact" / "en_fact.jsonl").read_text().split("\n")):
        row = json.loads(line)
        out.extend(
            p for p in row.get("positive", []) + row.get("negative", []) if isinstance(p, str)
        )
        if len(out) >= count:
            break
    return out[:count]


def down_projections(layers: int) -> list[str]:
    """The exported MiniLM's feed-forward down-projection MatMuls of its first ``layers``."""
    return [f"/model/encoder/layer.{i}/output/dense/MatMul" for i in range(layers)]


def _weight_matmuls(graph: Any) -> list[Any]:
    """The graph's MatMul nodes whose second input is a weight (what int8v2 quantises)."""
    weights = {i.name for i in graph.initializer}
    return [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def _model_folder(fp32: Path, folder: Path) -> None:
    """``folder`` made ready for a model.onnx: the export's tokenizer and window."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(fp32 / "tokenizer.json", folder / "tokenizer.json")
    # Mnemo's folder loader reads the window from a sentence-transformers file.
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))


def sensitivity(fp32: Path, root: Path, texts: list[str], threads: int) -> list[dict[str, Any]]:
    """Each weight MatMul quantised alone (int8v2's way): the cosine it costs, mean and worst."""
    import onnx

    from mnemo.embeddings.onnx import OnnxEmbedder

    reference = OnnxEmbedder(str(fp32), threads=threads, cache=root).embed_documents(texts)
    rows = []
    for node in _weight_matmuls(onnx.load(str(fp32 / "model.onnx")).graph):
        name = node.name
        folder = root / "one-matmul"
        shutil.rmtree(folder, ignore_errors=True)
        _model_folder(fp32, folder)
        _dynamic(fp32 / "model.onnx", folder / "model.onnx", nodes_to_quantize=[name])
        vectors = OnnxEmbedder(str(folder), threads=threads, cache=root).embed_documents(texts)
        cos = (vectors * reference).sum(axis=1)
        rows.append(
            {"matmul": name, "mean_loss": 1 - float(cos.mean()), "worst_loss": 1 - float(cos.min())}
        )
        print(f"{name}: mean {rows[-1]['mean_loss']:.2e}, worst {rows[-1]['worst_loss']:.2e}")
    shutil.rmtree(root / "one-matmul", ignore_errors=True)
    return rows


def _optimized(src: Path, dst: Path) -> None:
    """ONNX Runtime's offline transformer optimiser (fused attention, layer norm, gelu)."""
    from onnxruntime.transformers.optimizer import optimize_model

    restore = _quiet_root()
    try:
        model = optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384)
        model.save_model_to_file(str(dst))
    finally:
        restore()


def build(scheme: str, fp32: Path, root: Path, data: Path) -> Path:
    """The folder of ``scheme``, made from the fp32 export folder ``fp32``."""
    folder = root / scheme
    if (folder / "model.onnx").is_file():
        return folder
    _model_folder(fp32, folder)
    src = fp32 / "model.onnx"
    base = scheme
    if scheme.endswith("-opt"):
        base = scheme[: -len("-opt")]
        src = root / "fp32-opt.onnx"
        if not src.is_file():
            _optimized(fp32 / "model.onnx", src)
    out = folder / "model.onnx"
    if base == "fp32":
        shutil.copy(src, out)
    elif base == "int8v2":
        import onnx

        # The fused graph has contrib ops shape inference does not type.
        _dynamic(
            src,
            out,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    elif base.startswith("int8v2-down"):
        # int8v2 with the feed-forward down-projections of the first N layers kept
        # in fp32: the MatMuls whose quantisation costs the most (--sensitivity).
        _dynamic(src, out, nodes_to_exclude=down_projections(int(base[len("int8v2-down") :])))
    elif base.startswith("int8v2-smooth"):
        # SmoothQuant's migration (alpha = the number) before int8v2, calibrated on rgb-en-fact.
        smoothed = folder / "smoothed.onnx"
        _smoothed(src, smoothed, folder, alpha=float(base[len("int8v2-smooth") :]), data=data)
        _dynamic(smoothed, out)
        smoothed.unlink()
    elif base == "int8v1":
        _dynamic(src, out, per_channel=False, reduce_range=False, extra_options={})
    elif base == "int8v2-u8":
        from onnxruntime.quantization import QuantType

        _dynamic(src, out, weight_type=QuantType.QUInt8)
    elif base.startswith("nbits"):
        # nbits<bits>-b<block>-a<level>[-sym]
        parts = base.split("-")
        _nbits(
            src,
            out,
            bits=int(parts[0][len("nbits") :]),
            block=int(parts[1][1:]),
            level=int(parts[2][1:]),
            sym="sym" in parts,
        )
    elif base.startswith("static-"):
        _static(src, out, folder, method=base.split("-")[1], texts=calibration_texts(data))
    else:
        raise SystemExit(f"--schemes: unknown scheme {scheme!r}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/bench/data"))
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--cache", type=Path, required=True, help="where exports are kept")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--schemes",
        nargs="+",
        default=[
            "fp32",
            "int8v2",
            "nbits8-b32-a4",
            "nbits8-b64-a4",
            "nbits8-b128-a4",
            "nbits4-b32-a4",
            "nbits4-b128-a4",
        ],
    )
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="instead: each weight MatMul quantised alone, and the cosine to fp32 it costs",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from mnemo.embeddings.onnx import MINILM, OnnxEmbedder, _minilm_revision
    from mnemo.embeddings.onnx_export import exported
    from mnemo.embeddings.sentence_transformers import default_model_path

    fp32 = exported(default_model_path(), args.cache, MINILM, _minilm_revision(), int8=False)
    texts = passages(args.data, args.texts)
    if args.sensitivity:
        rows = sensitivity(fp32, args.cache / "schemes", texts, args.threads)
        if args.json:
            args.json.write_text(json.dumps({"texts": len(texts), "rows": rows}, indent=2))
        return
    embedders = {}
    for scheme in args.schemes:
        # "<scheme>+nospin": the same model, ONNX Runtime's worker threads not spinning.
        base, _, option = scheme.partition("+")
        folder = build(base, fp32, args.cache / "schemes", args.data)
        embedders[scheme] = OnnxEmbedder(str(folder), threads=args.threads, cache=args.cache)
        if option == "nospin":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            embedders[scheme]._session = onnxruntime.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        embedders[scheme].embed_documents(texts[:8])  # warm-up
    reference = OnnxEmbedder(None, threads=args.threads, cache=args.cache).embed_documents(texts)
    best: dict[str, dict[str, float]] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for scheme, embedder in embedders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            vectors[scheme] = embedder.embed_documents(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if scheme not in best or wall < best[scheme]["wall_s"]:
                best[scheme] = {"wall_s": wall, "cpu_s": cpu}
    rows = []
    for scheme, embedder in embedders.items():
        cos = (vectors[scheme] * reference).sum(axis=1)
        alone = embedder.embed_documents(texts[:64])
        size = (embedder.files[0]).stat().st_size
        rows.append(
            {
                "scheme": scheme,
                "texts_per_s": len(texts) / best[scheme]["wall_s"],
                "texts_per_cpu_s": len(texts) / best[scheme]["cpu_s"],
                "wall_s": best[scheme]["wall_s"],
                "cpu_s": best[scheme]["cpu_s"],
                "mean_cos": float(cos.mean()),
                "min_cos": float(cos.min()),
                "batch_max_abs_diff": float(np.abs(alone - vectors[scheme][:64]).max()),
                "model_mb": size / 1e6,
            }
        )
    load = os.getloadavg()
    print(f"{len(texts)} texts, threads {args.threads}, load {load[0]:.2f} {load[1]:.2f}")
    print(
        "| scheme | texts/s | texts/CPU s | CPU s | mean cos | min cos | batch max diff | MB |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for r in rows:
        print(
            f"| {r['scheme']} | {r['texts_per_s']:.1f} | {r['texts_per_cpu_s']:.1f} | "
            f"{r['cpu_s']:.1f} | {r['mean_cos']:.4f} | {r['min_cos']:.4f} | "
            f"{r['batch_max_abs_diff']:.1e} | {r['model_mb']:.1f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"load": load, "texts": len(texts), "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()

"""Retrieval on scanned passages: the same msmarco passages indexed as text and as page
images read by OCR, searched with the same queries in one run.

A subset of the shared msmarco set keeps the OCR time reasonable on 2 cores: for each of
the 50 queries its ``--relevant`` best-judged passages, plus random other passages up to
``--passages`` in all (seeded, so every run uses the same ones). The judgements are
restricted to that subset, for both versions alike.

- text: one ``.txt`` file per passage;
- scanned: one PNG per passage, the passage printed with Pillow at 300 dpi (about
  11 pt) as in benchmarks/ocr.py, a third clean, a third rotated 1-3 degrees, a third
  noisy; each image is cut to the printed lines (a scanned slip, not a mostly blank A4
  page), and read by Mnemo's OCR (Tesseract, the shipped settings).

Each version is indexed into its own data directory with the shipped defaults (the
packaged ONNX embedder) and searched with ``mnemo.search`` (hybrid; keyword (bm25) and meaning (dense)
alone too); nDCG@10 and recall@100 by ranx.

    python benchmarks/ocr_retrieval.py [--passages 400] [--relevant 4] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data" / "msmarco"
sys.path.insert(0, str(ROOT / "benchmarks"))

from ocr import KINDS, page
from retrieval import evaluate, load_set


def subset(
    passages: int, relevant: int, seed: int = 17
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """(passage id -> text, queries, judgements within the subset)."""
    corpus, queries, qrels = load_set(DATA)
    texts = {doc["_id"]: " ".join(doc["text"].split()) for doc in corpus}
    chosen: dict[str, None] = {}
    for qid in sorted(qrels):
        best = sorted(qrels[qid].items(), key=lambda item: (-item[1], item[0]))
        for did, score in best[:relevant]:
            if score > 0 and did in texts:
                chosen[did] = None
    rng = random.Random(seed)
    others = [did for did in sorted(texts) if did not in chosen]
    rng.shuffle(others)
    for did in others[: max(0, passages - len(chosen))]:
        chosen[did] = None
    kept = {
        qid: {d: s for d, s in judged.items() if d in chosen and s > 0}
        for qid, judged in qrels.items()
    }
    kept = {qid: judged for qid, judged in kept.items() if judged}
    return {did: texts[did] for did in chosen}, {q: queries[q] for q in kept}, kept


def slip(text: str, kind: str, rng: random.Random) -> Any:
    """``ocr.page`` cut to its printed lines, with a margin."""
    image = page(text, kind, rng)
    ink = image.point(lambda v: 255 if v < 128 else 0).getbbox()
    left, top, right, bottom = ink or (0, 0, image.width, image.height)
    margin = 120
    return image.crop(
        (
            max(0, left - margin),
            max(0, top - margin),
            min(image.width, right + margin),
            min(image.height, bottom + margin),
        )
    )


def search_all(
    settings: Any, queries: dict[str, str], stem_to_id: dict[str, str], mode: str
) -> dict[str, dict[str, float]]:
    import mnemo

    run: dict[str, dict[str, float]] = {}
    with mnemo.Library(settings) as library:
        for qid, text in queries.items():
            ranked: dict[str, float] = {}
            for rank, hit in enumerate(library.search(text, k=100, mode=mode).hits):
                did = stem_to_id.get(Path(hit.path).stem)
                if did is not None:
                    ranked.setdefault(did, 1000.0 - rank)
            run[qid] = ranked or {"__none__": 0.0}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--relevant", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import mnemo
    from mnemo.config import load_settings

    texts, queries, qrels = subset(args.passages, args.relevant)
    rng = random.Random(17)
    scratch = Path(tempfile.mkdtemp(prefix="mnemo-ocr-retrieval-"))
    stem_to_id: dict[str, str] = {}
    result: dict[str, Any] = {
        "command": "python benchmarks/ocr_retrieval.py "
        + f"--passages {args.passages} --relevant {args.relevant} --workers {args.workers}",
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "passages": len(texts),
        "queries": len(queries),
        "judgements": sum(len(j) for j in qrels.values()),
    }
    try:
        text_dir, scan_dir = scratch / "text", scratch / "scans"
        text_dir.mkdir()
        scan_dir.mkdir()
        for n, (did, text) in enumerate(texts.items()):
            stem = f"p{n:04d}"
            stem_to_id[stem] = did
            (text_dir / f"{stem}.txt").write_text(text + "\n")
            slip(text, KINDS[n % 3], rng).save(scan_dir / f"{stem}.png")
        overrides = {"ingest": {"workers": args.workers, "max_parse_seconds": 600}}
        for label, folder in (("text", text_dir), ("scanned", scan_dir)):
            settings = load_settings(scratch / f"home-{label}", overrides)
            load_before = os.getloadavg()
            started = time.perf_counter()
            report = mnemo.add([folder], settings)
            seconds = time.perf_counter() - started
            found: dict[str, Any] = {
                "indexed": report.counts["indexed"],
                "skipped": report.counts["skipped"],
                "failed": report.counts["failed"],
                "add_seconds": round(seconds, 1),
                "loadavg_before": [round(v, 2) for v in load_before],
                "loadavg_after": [round(v, 2) for v in os.getloadavg()],
            }
            for mode in ("hybrid", "bm25", "dense"):
                found[mode] = evaluate(qrels, search_all(settings, queries, stem_to_id, mode))
            result[label] = found
            print(label, json.dumps(found), file=sys.stderr)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

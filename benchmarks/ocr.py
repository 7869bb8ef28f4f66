"""OCR through Mnemo itself: pages per second on this machine, and character accuracy.

50 passages of the shared msmarco corpus (the first 50 of 300+ characters) are
printed onto A4 page images at 300 dpi with Pillow: a third clean, a third
rotated by 1-3 degrees (either way), a third noisy (Gaussian pixel noise and a
slight blur, as a cheap scanner gives). Each page is a PNG in a scratch folder
and ``mnemo.add`` indexes the folder with the shipped defaults (OCR on,
Tesseract English, the embedder off: this measures reading, not embedding),
``ingest.workers`` parser processes (default 2, one per core).

- speed: pages per second, wall clock of ``mnemo.add`` (cold OCR cache);
- cache: the same pages again under other names (a copy of the folder): each
  page is found in the page cache and never OCR'd again;
- accuracy: per page, 1 - CER, where CER is the Levenshtein distance between
  the passage and the indexed text (both with whitespace collapsed), divided by
  the passage's length (rapidfuzz); mean and worst, per kind of page.

    python benchmarks/ocr.py [--pages 50] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data" / "msmarco" / "corpus.jsonl"
KINDS = ("clean", "rotated", "noisy")


def passages(count: int) -> list[tuple[str, str]]:
    found = []
    with DATA.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = " ".join(row["text"].split())
            if len(text) >= 300:
                found.append((row["_id"], text))
                if len(found) == count:
                    break
    return found


def page(text: str, kind: str, rng: random.Random) -> Any:
    """An A4 page at 300 dpi with ``text`` set at about 11 pt."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.load_default(size=46)
    image = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(textwrap.wrap(text, 70)):
        draw.text((200, 250 + n * 70), line, font=font, fill=0)
    if kind == "rotated":
        angle = rng.choice([-1, 1]) * rng.uniform(1.0, 3.0)
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    elif kind == "noisy":
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(rng.randrange(1 << 30)).normal(0, 40, pixels.shape)
        image = Image.fromarray(pixels.clip(0, 255).astype("uint8")).filter(
            ImageFilter.GaussianBlur(1.0)
        )
    return image


def cer(reference: str, hypothesis: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    return Levenshtein.distance(ref, hyp) / max(len(ref), 1)


def indexed_texts(settings: Any, folder: Path) -> dict[str, str]:
    """The indexed text of each page in ``folder``, by file stem."""
    from sqlalchemy import select

    from mnemo.catalog import Catalog, Chunk, Document

    texts: dict[str, list[str]] = {}
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        rows = session.execute(
            select(Document.path, Chunk.text, Chunk.char_start)
            .join(Chunk, Chunk.document_id == Document.id)
            .order_by(Document.path, Chunk.ordinal)
        )
        for path, text, _ in rows:
            if Path(path).parent != folder:
                continue
            texts.setdefault(Path(path).stem, []).append(text)
    return {stem: " ".join(parts) for stem, parts in texts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import mnemo
    from mnemo.config import load_settings

    rng = random.Random(17)
    scratch = Path(tempfile.mkdtemp(prefix="mnemo-ocr-bench-"))
    try:
        folder = scratch / "scans"
        folder.mkdir()
        truth: dict[str, tuple[str, str]] = {}
        for n, (doc_id, text) in enumerate(passages(args.pages)):
            kind = KINDS[n % 3]
            stem = f"{n:03d}-{kind}-{doc_id}"
            page(text, kind, rng).save(folder / f"{stem}.png")
            truth[stem] = (kind, text)
        overrides = {
            "ingest": {"workers": args.workers, "max_parse_seconds": 600},
            "embedding": {"backend": "none"},
            # Chunks without overlap, so joining them gives the page's text once.
            "chunking": {"max_tokens": 512, "overlap_tokens": 0},
        }
        settings = load_settings(scratch / "home", overrides)
        load_before = os.getloadavg()
        started = time.perf_counter()
        report = mnemo.add([folder], settings)
        cold = time.perf_counter() - started
        load_after = os.getloadavg()
        copy = scratch / "copies"
        shutil.copytree(folder, copy)
        started = time.perf_counter()
        again = mnemo.add([copy], settings)
        warm = time.perf_counter() - started

        texts = indexed_texts(settings, folder)
        scores: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for stem, (kind, text) in truth.items():
            scores[kind].append(1 - cer(text, texts.get(stem, "")))
        every = [s for kind in KINDS for s in scores[kind]]
        result = {
            "command": "python benchmarks/ocr.py "
            + " ".join(f"--{k} {v}" for k, v in (("pages", args.pages), ("workers", args.workers))),
            "machine": {
                "cpus": os.cpu_count(),
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in load_after],
            "pages": len(truth),
            "indexed": report.counts["indexed"],
            "cold_seconds": round(cold, 1),
            "pages_per_second": round(len(truth) / cold, 3),
            "cached_seconds": round(warm, 1),
            "cached_indexed": again.counts["indexed"],
            "accuracy_mean": round(sum(every) / len(every), 4),
            "by_kind": {
                kind: {
                    "pages": len(s),
                    "accuracy_mean": round(sum(s) / len(s), 4),
                    "accuracy_worst": round(min(s), 4),
                }
                for kind, s in scores.items()
                if s
            },
        }
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

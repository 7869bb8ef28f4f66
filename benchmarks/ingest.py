"""Ingestion benchmark: parse + chunk + catalog throughput, end-to-end throughput
with embeddings against raw sentence-transformers encoding, and PDF library
comparison.

    python benchmarks/ingest.py                          # 2,000 generated mixed files
    python benchmarks/ingest.py --generate 0 --embed-files 300   # embeddings only
    python benchmarks/ingest.py --generate 0 --embed-files 0 --pdf-dir DIR   # real PDFs only
    python benchmarks/ingest.py --pdf-dir DIR --json out.json

The parse/chunk/catalog runs have embedding off (``embedding.backend = none``)
so that they stay comparable with the figures before embeddings existed. The
embedding section generates its own corpus (``--embed-files``), runs
``mnemo add`` end to end with the default embedder, then, in a fresh process,
encodes exactly the texts Mnemo embedded with plain sentence-transformers
(``SentenceTransformer.encode``, batch 64, all of them in one call, same
threads): the pipeline's overhead is the difference.

The generated corpus is built from the real passages in ../shared/bench/data
(msmarco, dbpedia corpus.jsonl), read at run time; nothing from them is stored
in the repository. Every Mnemo run gets a fresh data directory and runs in its
own Python process, so its peak RSS is its own.

Stage seconds come from Mnemo's RunReport: ``scan`` and ``write`` are wall
seconds in the parent process; ``read``, ``parse`` and ``chunk`` are summed over
files, i.e. over all worker processes (worker-seconds, close to CPU seconds);
``total`` is the run's wall time. With more than one worker the stage sum can
exceed the wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "data"

#: Share of each kind of file in the generated corpus.
MIX = {
    "md": 0.34,
    "txt": 0.12,
    "html": 0.14,
    "docx": 0.10,
    "pdf": 0.10,
    "py": 0.06,
    "js": 0.03,
    "csv": 0.05,
    "rst": 0.06,
}

#: Two-column sample papers in texlive-publishers-doc (paths under usr/share/doc/texlive-doc).
TWO_COLUMN_SAMPLES = (
    "latex/acmart/samples/sample-sigconf.pdf",
    "latex/elsarticle/elstest-5p.pdf",
    "latex/revtex4-1/sample/aps/apssamp.pdf",
    "latex/asmeconf/asmeconf-template.pdf",
)

STAGES = ("scan", "read", "parse", "chunk", "write")
STAGE_KIND = {
    "scan": "parent wall",
    "read": "summed over workers",
    "parse": "summed over workers",
    "chunk": "summed over workers",
    "write": "parent wall",
}


# -- output ----------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (so it can be pasted into docs/benchmarks.md as is)."""
    cells = [[_cell(v) for v in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def say(text: str = "") -> None:
    print(text, flush=True)


# -- machine ---------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    versions = {}
    for name in ("pypdfium2", "pypdf", "pdfminer.six", "semantic-text-splitter", "tokenizers", "sentence-transformers", "torch"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
    }


# -- generated corpus ------------------------------------------------------------


def load_passages(data: Path) -> list[tuple[str, str]]:
    passages = []
    for name in ("msmarco", "dbpedia"):
        path = data / name / "corpus.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} not found: give --data (the shared bench data folder)")
        with path.open() as handle:
            for line in handle:
                row = json.loads(line)
                passages.append((row.get("title") or "", row["text"]))
    return passages


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _paragraphs(rng: random.Random, passages: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    """``n`` (heading, paragraph) pairs; a paragraph is 1-3 real passages run together."""
    out = []
    for k in range(n):
        picked = rng.sample(passages, rng.randint(1, 3))
        heading = picked[0][0] or f"Part {k + 1}"
        out.append((heading, " ".join(t for _, t in picked)))
    return out


def generate(root: Path, count: int, data: Path, seed: int) -> dict[str, dict[str, float]]:
    """Write ``count`` files under ``root``; returns files and MB per kind."""
    from docx import Document as Docx
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    rng = random.Random(seed)
    passages = load_passages(data)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    styles = getSampleStyleSheet()
    made: dict[str, dict[str, float]] = {}
    for i, kind in enumerate(kinds):
        folder = root / f"area{i % 8}" / f"topic{i % 40:02}"
        folder.mkdir(parents=True, exist_ok=True)
        sections = _paragraphs(rng, passages, rng.randint(3, 12))
        title = sections[0][0] or f"Document {i}"
        path = folder / f"doc{i:05}.{kind}"
        if kind == "md":
            tags = ", ".join(rng.sample(["notes", "reading", "work", "ideas", "people", "travel"], 2))
            body = []
            for n, (h, t) in enumerate(sections):
                level = "##" if n % 3 == 0 else "###"
                body.append(f"{level} {h}\n\n{t}")
                if n % 4 == 2:
                    body.append("\n".join(f"- {s.strip()}" for s in t.split(". ")[:4] if s.strip()))
            path.write_text(
                f"---\ntitle: {json.dumps(title)}\ntags: [{tags}]\ncreated: 2024-0{1 + i % 9}-1{i % 10}\n---\n"
                f"# {title}\n\n" + "\n\n".join(body) + "\n"
            )
        elif kind == "txt":
            path.write_text(title.upper() + "\n\n" + "\n\n".join(t for _, t in sections) + "\n")
        elif kind == "rst":
            parts = [f"{title}\n{'=' * len(title)}"]
            parts += [f"{h}\n{'-' * len(h)}\n\n{t}" for h, t in sections[1:]]
            path.write_text("\n\n".join(parts) + "\n")
        elif kind == "csv":
            rows = "\n".join(f'"{_q(h)}","{_q(t)}",{rng.randint(1, 999)}' for h, t in sections)
            path.write_text("title,text,score\n" + rows + "\n")
        elif kind == "py":
            funcs = [
                f'def step_{n}(items: list[str]) -> int:\n    """{_q(t[:240])}"""\n'
                f"    total = 0\n    for item in items:\n        total += len(item) * {n + 1}\n    return total\n"
                for n, (_, t) in enumerate(sections)
            ]
            path.write_text(f'"""{_q(title)}."""\n\nimport os\n\n\n' + "\n\n".join(funcs))
        elif kind == "js":
            funcs = [
                f"/** {_q(t[:200])} */\nexport function step{n}(xs) {{\n  return xs.map((x) => x * {n + 1});\n}}\n"
                for n, (_, t) in enumerate(sections)
            ]
            path.write_text("\n".join(funcs))
        elif kind == "html":
            body = "".join(f"<h2>{_esc(h)}</h2><p>{_esc(t)}</p>" for h, t in sections)
            links = "".join(f"<li><a href='/p/{k}'>{_esc(p[0][:30] or 'Page')}</a></li>" for k, p in enumerate(rng.sample(passages, 8)))
            path.write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)} | Example Wiki</title>"
                "<script>window.dataLayer=[];function gtag(){dataLayer.push(arguments)}</script>"
                "<style>nav{display:flex}</style></head><body>"
                "<div class='cookie'>We use cookies to improve your experience. <button>Accept</button></div>"
                "<header><a href='/'>Example Wiki</a><nav><a href='/'>Home</a><a href='/about'>About us</a>"
                "<a href='/contact'>Contact</a><form><input placeholder='Search'></form></nav></header>"
                f"<aside><h3>Related pages</h3><ul>{links}</ul></aside>"
                f"<main><article><h1>{_esc(title)}</h1><p class='byline'>Updated 2024</p>{body}</article></main>"
                "<footer><p>Copyright 2024 example.org. All rights reserved.</p><a href='/privacy'>Privacy</a>"
                "<a href='/terms'>Terms</a></footer></body></html>"
            )
        elif kind == "docx":
            document = Docx()
            document.core_properties.title = title
            document.add_heading(title, 0)
            for n, (h, t) in enumerate(sections):
                document.add_heading(h, 1 if n % 3 == 0 else 2)
                document.add_paragraph(t)
                if n % 5 == 4:
                    for s in t.split(". ")[:3]:
                        document.add_paragraph(s, style="List Bullet")
            document.save(str(path))
        elif kind == "pdf":
            story = [Paragraph(_esc(title), styles["Title"])]
            for n, (h, t) in enumerate(sections):
                story += [Paragraph(_esc(h), styles["Heading2"]), Paragraph(_esc(t), styles["BodyText"])]
                if n % 4 == 3:
                    story.append(PageBreak())
            SimpleDocTemplate(str(path), pagesize=A4, title=title).build(story)
        row = made.setdefault(kind, {"files": 0, "mb": 0.0})
        row["files"] += 1
        row["mb"] += path.stat().st_size / 1e6
    for row in made.values():
        row["mb"] = round(row["mb"], 2)
    return made


def _q(text: str) -> str:
    return text.replace('"', "'").replace("\\", "/")


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- one Mnemo run, in a child process ---------------------------------------------


def child_ingest(
    corpus: Path, workers: int, texts_out: Path | None = None, embedding: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Runs inside the child: ``api.add`` with a fresh data dir, then a no-op ``api.sync``.

    With ``texts_out`` the embedder is on (the default, or the ``embedding``
    settings given) and the texts it embedded are written there (one JSON list);
    without, embedding is off."""
    from mnemo import api
    from mnemo.config import load_settings

    home = Path(tempfile.mkdtemp(prefix="mnemo-bench-home-"))
    try:
        overrides: dict[str, Any] = {"ingest": {"workers": workers}}
        if texts_out is None:
            overrides["embedding"] = {"backend": "none"}
        elif embedding:
            overrides["embedding"] = embedding
        settings = load_settings(home, overrides)
        started = time.perf_counter()
        report = api.add([corpus], settings)
        wall = time.perf_counter() - started
        usage_self = resource.getrusage(resource.RUSAGE_SELF)
        usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        documents = api.documents(settings)
        pages_indexed = sum(d.pages or 0 for d in documents if d.status == "indexed")
        reasons: dict[str, int] = {}
        for o in report.outcomes:
            if o.outcome in ("skipped", "failed"):
                key = f"{o.outcome}: {(o.reason or '')[:60]}"
                reasons[key] = reasons.get(key, 0) + 1
        embedding: dict[str, Any] = {}
        if texts_out is not None:
            texts = embedded_texts(settings)
            texts_out.write_text(json.dumps(texts))
            embedding = {
                "embedder": report.embedding.embedder,
                "embedded": report.embedding.embedded,
                "unique_texts": len(texts),
                "seconds": report.embedding.seconds,
                "error": report.embedding.error,
            }
        started = time.perf_counter()
        again = api.sync(settings)
        noop = time.perf_counter() - started
        return {
            "embedding": embedding,
            "workers_setting": workers,
            "wall_s": wall,
            "report_total_s": report.seconds.get("total"),
            "counts": report.counts,
            "excluded": report.excluded,
            "bytes_read": report.bytes_read,
            "chunks": report.chunks_written,
            "stage_seconds": {k: v for k, v in report.seconds.items() if k != "total"},
            "pages_indexed": pages_indexed,
            "not_indexed_reasons": reasons,
            "cpu_s": {
                "parent": usage_self.ru_utime + usage_self.ru_stime,
                "workers": usage_children.ru_utime + usage_children.ru_stime,
            },
            "peak_rss_mb": {
                "parent": usage_self.ru_maxrss / 1024,
                "largest_worker": usage_children.ru_maxrss / 1024,
            },
            "noop_sync": {
                "wall_s": noop,
                "report_total_s": again.seconds.get("total"),
                "counts": again.counts,
                "bytes_read": again.bytes_read,
                "chunks_written": again.chunks_written,
                "stage_seconds": dict(again.seconds),
            },
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def child_prepare(embedding: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the child: load (and on first use, export) an embedder."""
    from mnemo.config import load_settings
    from mnemo.embeddings.resolve import configured, load

    home = Path(tempfile.mkdtemp(prefix="mnemo-bench-home-"))
    try:
        settings = load_settings(home, {"embedding": embedding})
        started = time.perf_counter()
        load(configured(settings), settings)
        return {"seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def embedded_texts(settings: Any) -> list[str]:
    """The distinct strings the embedder was given: each chunk's embedding input."""
    from sqlalchemy import select

    from mnemo.catalog import Catalog
    from mnemo.catalog import Chunk, Document
    from mnemo.embeddings.inputs import embedding_input

    texts: dict[str, str] = {}
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        for chunk, doc in session.execute(
            select(Chunk, Document).join(Document, Chunk.document_id == Document.id)
        ):
            texts.setdefault(chunk.embed_hash, embedding_input(doc.title, chunk.heading_path or [], chunk.text))
    return list(texts.values())


def child_encode(texts_file: Path, batch_size: int) -> dict[str, Any]:
    """Runs inside the child: plain sentence-transformers on the same texts."""
    texts = json.loads(texts_file.read_text())
    started = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer

    from mnemo.embeddings.sentence_transformers import default_model_path

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    encode_s = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "texts": len(texts),
        "dimension": int(vectors.shape[1]),
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "import_s": import_s,
        "model_load_s": load_s,
        "encode_s": encode_s,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def _child(*arguments: str, src: Path | None = None) -> dict[str, Any]:
    """This script in a fresh process; with ``src``, running the Mnemo found there."""
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


#: Embedders compared end to end: label -> embedding settings ("before" runs the
#: Mnemo given by --before-src with its own defaults).
EMBEDDERS: dict[str, dict[str, Any]] = {
    "pytorch": {"backend": "sentence-transformers"},
    "onnx": {},
    "onnx-int8": {"quantize": True},
    "bge-small": {"model": "bge-small-en-v1.5"},
}


def embed_run(corpus: Path, labels: list[str], before_src: Path | None) -> dict[str, Any]:
    """``mnemo add`` with each embedder, then raw sentence-transformers encoding of the
    texts the first run embedded; each in its own process."""
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-texts-") as scratch:
        texts_file = Path(scratch) / "texts.json"
        plan: list[tuple[str, dict[str, Any], Path | None]] = []
        if before_src is not None:
            plan.append(("before", {}, before_src))
        plan += [(label, EMBEDDERS[label], None) for label in labels]
        # One-time work (the ONNX export into the user cache) is done and timed first,
        # so that the runs measure ingestion as every run after the first sees it.
        prepared = {label: _child("--child-prepare", json.dumps(embedding))["seconds"]
                    for label, embedding, src in plan if src is None}
        say(f"embedders prepared (first-use export, seconds): {prepared}")
        for label, embedding, src in plan:
            say(f"running add with {label} ...")
            arguments = ["--child-ingest", str(corpus), "--child-workers", "0",
                         "--child-texts", str(texts_file)]
            if embedding:
                arguments += ["--child-embedding", json.dumps(embedding)]
            run = _child(*arguments, src=src)
            wall = run["wall_s"]
            emb = run["embedding"]
            runs[label] = {
                "src": str(src) if src else "this checkout",
                "embedder": emb["embedder"],
                "error": emb["error"],
                "counts": run["counts"],
                "chunks": run["chunks"],
                "embedded": emb["embedded"],
                "unique_texts": emb["unique_texts"],
                "wall_s": round(wall, 1),
                "chunks_per_s": round(run["chunks"] / wall, 1),
                "embedding_step_s": round(emb["seconds"], 1),
                "before_embedding_s": round(wall - emb["seconds"], 1),
                "stage_seconds": {k: round(v, 2) for k, v in run["stage_seconds"].items()},
                "cpu_s": {k: round(v, 1) for k, v in run["cpu_s"].items()},
                "peak_rss_mb": {k: round(v, 1) for k, v in run["peak_rss_mb"].items()},
                "loadavg_after": list(os.getloadavg()),
            }
            say(f"  {label}: {runs[label]}")
        say("running raw sentence-transformers on the same texts ...")
        raw = _child("--child-encode", str(texts_file))
    first = runs[next(iter(runs))]
    return {
        "runs": runs,
        "prepare_s": {k: round(v, 1) for k, v in prepared.items()},
        "speedup_vs_first": {k: round(v["chunks_per_s"] / first["chunks_per_s"], 2) for k, v in runs.items()},
        "raw": {
            "texts": raw["texts"],
            "batch_size": raw["batch_size"],
            "torch_threads": raw["torch_threads"],
            "import_s": round(raw["import_s"], 1),
            "model_load_s": round(raw["model_load_s"], 1),
            "encode_s": round(raw["encode_s"], 1),
            "texts_per_s": round(raw["texts"] / raw["encode_s"], 1),
            "peak_rss_mb": round(raw["peak_rss_mb"], 1),
        },
    }


def print_embed_run(r: dict[str, Any]) -> None:
    rows = [
        [f"mnemo add, {label} ({v['embedder']})", v["unique_texts"], v["wall_s"], v["chunks_per_s"],
         r["speedup_vs_first"][label], v["embedding_step_s"], v["before_embedding_s"],
         v["peak_rss_mb"]["parent"]]
        for label, v in r["runs"].items()
    ]
    raw = r["raw"]
    rows.append([f"raw sentence-transformers encode, batch {raw['batch_size']}, {raw['torch_threads']} threads "
                 f"(import {raw['import_s']} s, load {raw['model_load_s']} s not counted)",
                 raw["texts"], raw["encode_s"], raw["texts_per_s"], "", "", "", raw["peak_rss_mb"]])
    say(table(["run", "texts embedded", "wall s", "chunks/s", "speed-up", "embed s", "before embed s",
               "peak RSS MB"], rows))
    say()


def ingest(corpus: Path, workers: int, label: str) -> dict[str, Any]:
    """Run one ``add`` + no-op ``sync`` in a fresh Python process and derive the rates."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-ingest", str(corpus), "--child-workers", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ingest child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    size = tree_bytes(corpus) if not any(p.is_symlink() for p in corpus.iterdir()) else None
    counts = raw["counts"]
    files = sum(counts[k] for k in ("indexed", "skipped", "failed"))
    wall = raw["wall_s"]
    mb = (size if size is not None else raw["bytes_read"]) / 1e6
    stages = {k: raw["stage_seconds"].get(k, 0.0) for k in STAGES}
    stage_sum = sum(stages.values())
    noop = raw["noop_sync"]
    noop_files = sum(noop["counts"].values())
    return {
        "label": label,
        "workers": workers or os.cpu_count(),
        "files": files,
        "counts": counts,
        "mb": round(mb, 2),
        "wall_s": round(wall, 2),
        "files_per_s": round(files / wall, 1),
        "mb_per_s": round(mb / wall, 2),
        "chunks": raw["chunks"],
        "chunks_per_s": round(raw["chunks"] / wall, 1),
        "pages_indexed": raw["pages_indexed"],
        "pages_per_s": round(raw["pages_indexed"] / wall, 1) if raw["pages_indexed"] else None,
        "cpu_s": {k: round(v, 1) for k, v in raw["cpu_s"].items()},
        "cpu_utilisation": round(sum(raw["cpu_s"].values()) / wall, 2),
        "report_total_s": round(raw["report_total_s"], 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "stage_share_of_sum": {k: round(v / stage_sum, 3) for k, v in stages.items()} if stage_sum else {},
        "stage_over_wall": {k: round(v / raw["report_total_s"], 3) for k, v in stages.items()},
        "ms_per_chunk_chunking": round(1000 * stages["chunk"] / raw["chunks"], 2) if raw["chunks"] else None,
        "peak_rss_mb": {k: round(v, 1) for k, v in raw["peak_rss_mb"].items()},
        "not_indexed_reasons": raw["not_indexed_reasons"],
        "noop_sync": {
            "wall_s": round(noop["wall_s"], 3),
            "files_per_s": round(noop_files / noop["wall_s"], 0),
            "counts": noop["counts"],
            "bytes_read": noop["bytes_read"],
            "chunks_written": noop["chunks_written"],
            "parse_s": round(noop["stage_seconds"].get("parse", 0.0), 3),
        },
    }


def print_runs(runs: list[dict[str, Any]]) -> None:
    say(
        table(
            ["run", "workers", "files", "MB", "wall s", "files/s", "MB/s", "chunks", "chunks/s", "CPU s (parent+workers)", "peak RSS parent / largest worker MB"],
            [
                [
                    r["label"],
                    r["workers"],
                    r["files"],
                    r["mb"],
                    r["wall_s"],
                    r["files_per_s"],
                    r["mb_per_s"],
                    r["chunks"],
                    r["chunks_per_s"],
                    f"{r['cpu_s']['parent']:.1f} + {r['cpu_s']['workers']:.1f}",
                    f"{r['peak_rss_mb']['parent']:.0f} / {r['peak_rss_mb']['largest_worker']:.0f}",
                ]
                for r in runs
            ],
        )
    )
    say()
    say("Outcomes: " + "; ".join(f"{r['label']}: {_counts(r['counts'])}" for r in runs))
    say()
    say("No-op sync right after (unchanged files):")
    say(
        table(
            ["after", "wall s", "files/s", "unchanged", "indexed (re-parsed)", "bytes read", "chunks written"],
            [
                [
                    r["label"],
                    r["noop_sync"]["wall_s"],
                    r["noop_sync"]["files_per_s"],
                    r["noop_sync"]["counts"]["unchanged"],
                    r["noop_sync"]["counts"]["indexed"],
                    r["noop_sync"]["bytes_read"],
                    r["noop_sync"]["chunks_written"],
                ]
                for r in runs
            ],
        )
    )
    say()
    say("Stages (RunReport seconds; read/parse/chunk are summed over worker processes, scan/write are parent wall time):")
    rows = []
    for stage in STAGES:
        row = [stage, STAGE_KIND[stage]]
        for r in runs:
            row += [r["stage_seconds"][stage], f"{100 * r['stage_share_of_sum'].get(stage, 0):.1f} %"]
        rows.append(row)
    rows.append(["total (run wall)", "wall"] + sum(([r["report_total_s"], ""] for r in runs), []))
    headers = ["stage", "kind"] + sum(([f"s, {r['workers']} worker(s)", "share of stage sum"] for r in runs), [])
    say(table(headers, rows))
    say()


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v)


# -- parse and chunk cost per format (in this process, no catalog) -----------------


def chunk_profile(files: list[Path]) -> dict[str, dict[str, Any]]:
    """Per format: parse and chunk time, chunks, and the cost of one tokenizer pass over the text."""
    from mnemo.chunking import Chunker
    from mnemo.config import load_settings
    from mnemo.ingest.parsers import Format, ParseLimits, format_for

    settings = load_settings(Path(tempfile.mkdtemp(prefix="mnemo-bench-cfg-")), {})
    cfg = settings.chunking
    chunker = Chunker(cfg.max_tokens, cfg.overlap_tokens, cfg.tokenizer)
    totals: dict[str, dict[str, Any]] = {}
    for path in files:
        fmt = format_for(path)
        if not isinstance(fmt, Format):
            continue
        data = path.read_bytes()
        row = totals.setdefault(
            path.suffix, {"files": 0, "mb": 0.0, "parse_s": 0.0, "chunk_s": 0.0, "tokenize_once_s": 0.0, "chunks": 0, "errors": 0}
        )
        row["files"] += 1
        row["mb"] += len(data) / 1e6
        started = time.perf_counter()
        try:
            parsed = fmt.parse(data, path, ParseLimits(max_pages=100_000))
        except Exception:
            row["errors"] += 1
            row["parse_s"] += time.perf_counter() - started
            continue
        row["parse_s"] += time.perf_counter() - started
        started = time.perf_counter()
        row["chunks"] += len(chunker.chunk(parsed))
        row["chunk_s"] += time.perf_counter() - started
        started = time.perf_counter()
        chunker.tokenizer.encode_batch(
            [parsed.text[s.start : s.end] for s in parsed.sections], add_special_tokens=False
        )
        row["tokenize_once_s"] += time.perf_counter() - started
    for row in totals.values():
        n = row["files"]
        row["parse_ms_per_file"] = round(1000 * row["parse_s"] / n, 2)
        row["chunk_ms_per_file"] = round(1000 * row["chunk_s"] / n, 2)
        row["chunk_ms_per_chunk"] = round(1000 * row["chunk_s"] / row["chunks"], 2) if row["chunks"] else None
        row["tokenize_once_ms_per_file"] = round(1000 * row["tokenize_once_s"] / n, 2)
        for key in ("mb", "parse_s", "chunk_s", "tokenize_once_s"):
            row[key] = round(row[key], 2)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]["parse_s"] - kv[1]["chunk_s"]))


def print_profile(profile: dict[str, dict[str, Any]]) -> None:
    say(
        table(
            ["format", "files", "MB", "parse ms/file", "chunk ms/file", "chunks", "chunk ms/chunk", "one tokenizer pass ms/file", "errors"],
            [
                [
                    ext,
                    r["files"],
                    r["mb"],
                    r["parse_ms_per_file"],
                    r["chunk_ms_per_file"],
                    r["chunks"],
                    r["chunk_ms_per_chunk"],
                    r["tokenize_once_ms_per_file"],
                    r["errors"],
                ]
                for ext, r in profile.items()
            ],
        )
    )
    say()


# -- PDF libraries -----------------------------------------------------------------


def _pdfium_raw(data: bytes) -> int:
    """Plain pypdfium2: every page's text, nothing else. Returns characters extracted."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    chars = 0
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            chars += len(textpage.get_text_bounded())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return chars


def _mnemo_pdf(data: bytes) -> int:
    from mnemo.ingest.parsers.base import ParseLimits
    from mnemo.ingest.parsers.pdf import parse

    return len(parse(data, Path("bench.pdf"), ParseLimits(max_pages=100_000)).text)


def _pypdf(data: bytes) -> int:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return sum(len(page.extract_text() or "") for page in reader.pages)


def _pdfminer(data: bytes) -> int:
    from pdfminer.high_level import extract_text

    return len(extract_text(io.BytesIO(data)))


LIBRARIES: dict[str, Callable[[bytes], int]] = {
    "pypdfium2, raw get_text_bounded": _pdfium_raw,
    "Mnemo PDF parser (pypdfium2 + outline + clean-up)": _mnemo_pdf,
    "pypdf PdfReader.extract_text": _pypdf,
    "pdfminer.six high_level.extract_text": _pdfminer,
}


class _OutOfTime(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the current file when a library's time budget runs out (main thread only)."""

    def _raise(*_: Any) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pdf_page_count(path: Path) -> int | None:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception:
        return None
    try:
        return len(pdf)
    finally:
        pdf.close()


def pdf_files(folder: Path, limit: int | None, seed: int) -> list[Path]:
    """A fixed random sample of the PDFs under ``folder`` (all of them without a limit)."""
    found = sorted(folder.rglob("*.pdf"))
    if limit is None or limit >= len(found):
        return found
    return sorted(random.Random(seed).sample(found, limit))


def compare_pdf_libraries(files: list[Path], budget_s: float) -> list[dict[str, Any]]:
    import logging

    from mnemo.ingest.parsers import ParseSkipped

    for name in ("pypdf", "pdfminer", "pypdfium2"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    blobs = [(f, f.read_bytes(), pdf_page_count(f) or 0) for f in files]
    results = []
    for name, extract in LIBRARIES.items():
        done = pages = failures = skipped = chars = size = 0
        errors: dict[str, int] = {}
        out_of_time = False
        started = time.perf_counter()
        try:
            with _deadline(budget_s):
                for _, data, page_count in blobs:
                    try:
                        chars += extract(data)
                        pages += page_count
                    except ParseSkipped:  # Mnemo's verdict, e.g. an image-only figure: read, no text
                        skipped += 1
                        pages += page_count
                    except _OutOfTime:
                        raise
                    except Exception as exc:
                        failures += 1
                        key = type(exc).__name__
                        errors[key] = errors.get(key, 0) + 1
                    done += 1
                    size += len(data)
        except _OutOfTime:
            out_of_time = True
        wall = time.perf_counter() - started
        row = {
            "library": name,
            "files": done,
            "of_files": len(blobs),
            "pages": pages,
            "mb": round(size / 1e6, 2),
            "chars": chars,
            "failures": failures,
            "errors": errors,
            "skipped_no_text": skipped,
            "wall_s": round(wall, 2),
            "pages_per_s": round(pages / wall, 1) if wall else None,
            "mb_per_s": round(size / 1e6 / wall, 2) if wall else None,
            "files_per_s": round(done / wall, 1) if wall else None,
            "stopped_by_budget": out_of_time,
        }
        results.append(row)
        say(f"  {name}: {done}/{len(blobs)} files, {pages} pages in {wall:.1f} s" + (" (budget reached)" if out_of_time else ""))
    return results


def print_libraries(rows: list[dict[str, Any]]) -> None:
    say(
        table(
            ["library", "files", "pages", "MB", "s", "pages/s", "MB/s", "failures", "chars extracted"],
            [
                [
                    r["library"],
                    f"{r['files']}/{r['of_files']}" + (" (budget)" if r["stopped_by_budget"] else ""),
                    r["pages"],
                    r["mb"],
                    r["wall_s"],
                    r["pages_per_s"],
                    r["mb_per_s"],
                    f"{r['failures']}" + (f" ({r['skipped_no_text']} skipped: no text)" if r["skipped_no_text"] else ""),
                    r["chars"],
                ]
                for r in rows
            ],
        )
    )
    say()


def ingest_pdfs(files: list[Path]) -> dict[str, Any]:
    """Mnemo end to end on the PDFs only (a flat folder of links to them)."""
    folder = Path(tempfile.mkdtemp(prefix="mnemo-bench-pdfs-"))
    try:
        for n, f in enumerate(files):
            (folder / f"{n:04}-{f.name}").symlink_to(f.resolve())
        result = ingest(folder, 0, "real PDFs, one worker per core")
        result["mb"] = round(sum(f.stat().st_size for f in files) / 1e6, 2)
        result["mb_per_s"] = round(result["mb"] / result["wall_s"], 2)
        result["pages_all"] = sum(pdf_page_count(f) or 0 for f in files)
        result["pages_all_per_s"] = round(result["pages_all"] / result["wall_s"], 1)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- reading order on two-column pages ------------------------------------------------


def reading_order(path: Path, min_chars: int = 15) -> dict[str, Any]:
    """Page 1 through Mnemo's parser: do the two columns come out whole, left before right?

    Each line of Mnemo's page-1 text (at least ``min_chars`` long) is labelled L
    or R when it occurs, whole, in the text pdfium finds inside only the left or
    only the right half of the page; lines spanning the middle (title, wide
    figures) or found in both are left unlabelled. The result lists the runs of
    consecutive labels in extraction order: columns kept whole read as one long
    L run followed by one long R run (short runs at the top are author grids and
    running heads); interleaved columns show many alternating runs.
    """
    import pypdfium2 as pdfium

    from mnemo.ingest.parsers.base import ParseLimits
    from mnemo.ingest.parsers.pdf import _clean, parse

    data = path.read_bytes()
    parsed = parse(data, path, ParseLimits(max_pages=100_000))
    first = parsed.pages[0]
    text = parsed.text[first.start : first.end]
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        width, height = page.get_size()
        textpage = page.get_textpage()
        halves = []
        for left, right in ((0, width / 2), (width / 2, width)):
            found = _clean(textpage.get_text_bounded(left, 0, right, height))
            halves.append({line.strip() for line in found.split("\n") if len(line.strip()) >= min_chars})
        textpage.close()
        page.close()
    finally:
        pdf.close()
    labels: list[tuple[str, str]] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) < min_chars:
            continue
        in_left, in_right = stripped in halves[0], stripped in halves[1]
        labels.append((("L" if in_left else "R") if in_left != in_right else "-", stripped))
    runs: list[dict[str, Any]] = []
    for label, line in labels:
        if label == "-":
            continue
        if runs and runs[-1]["column"] == label:
            runs[-1]["lines"] += 1
            runs[-1]["last"] = line[:70]
        else:
            runs.append({"column": label, "lines": 1, "first": line[:70], "last": line[:70]})
    # Runs under 4 lines are author grids, running heads, footnote marks; merge the rest.
    long_runs = re.sub(r"(.)\1+", r"\1", "".join(r["column"] for r in runs if r["lines"] >= 4))
    return {
        "file": str(path),
        "pages": len(parsed.pages or []),
        "lines_checked": len(labels),
        "lines_spanning_or_ambiguous": sum(1 for label, _ in labels if label == "-"),
        "runs": runs,
        "long_runs": long_runs,
        "columns_whole_left_then_right": long_runs == "LR",
        "two_column": "L" in long_runs and "R" in long_runs,
        "page1_head": text[:400],
    }


def print_reading_order(rows: list[dict[str, Any]], base: Path) -> None:
    for r in rows:
        name = Path(r["file"]).relative_to(base) if Path(r["file"]).is_relative_to(base) else r["file"]
        verdict = (
            "columns whole, left then right"
            if r["columns_whole_left_then_right"]
            else ("not two-column on page 1" if not r["two_column"] else f"OUT OF ORDER (long runs {r['long_runs']})")
        )
        say(f"{name}: {verdict}; {r['lines_checked']} lines >= 15 chars, {r['lines_spanning_or_ambiguous']} span both halves")
        for run in r["runs"]:
            say(f"    {run['column']} x{run['lines']:<3} {run['first']!r} ... {run['last']!r}")
    say()


# -- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", type=int, default=2000, help="files in the generated corpus (0: none)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared bench data folder (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, help="build (or reuse) the generated corpus here and keep it")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the corpus and the PDF sample")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-format parse/chunk profile")
    parser.add_argument("--pdf-dir", type=Path, help="folder of real PDFs (searched recursively)")
    parser.add_argument("--pdf-limit", type=int, default=150, help="PDFs in the library comparison (a fixed random sample)")
    parser.add_argument("--pdf-budget", type=float, default=90.0, help="seconds each library may take at most")
    parser.add_argument("--pdf-ingest-limit", type=int, help="PDFs for Mnemo's end-to-end run (default: all)")
    parser.add_argument("--pdf-profile", type=int, default=30, help="PDFs in the parse/chunk profile (0: none)")
    parser.add_argument("--reading-order", nargs="*", type=Path, help="PDFs to check page 1 reading order on (default: known two-column samples under --pdf-dir)")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--child-ingest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-texts", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-encode", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--embed-files", type=int, default=300, help="files in the corpus for the embedding run (0: none)")
    parser.add_argument("--embedders", nargs="+", default=["onnx"], choices=list(EMBEDDERS),
                        help="embedders for the end-to-end run (default: %(default)s)")
    parser.add_argument("--before-src", type=Path,
                        help="a src/ folder of an earlier Mnemo: its end-to-end run goes first, as the baseline")
    parser.add_argument("--child-embedding", help=argparse.SUPPRESS)
    parser.add_argument("--child-prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_ingest:
        embedding = json.loads(args.child_embedding) if args.child_embedding else None
        print(json.dumps(child_ingest(args.child_ingest, args.child_workers, args.child_texts, embedding)))
        return 0
    if args.child_prepare:
        print(json.dumps(child_prepare(json.loads(args.child_prepare))))
        return 0
    if args.child_encode:
        print(json.dumps(child_encode(args.child_encode, batch_size=64)))
        return 0

    results: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python benchmarks/ingest.py " + " ".join(sys.argv[1:]),
    }
    m = results["machine"]
    say(f"machine: {m['cpus']} CPUs, {m['cpu_model']}, {m['memory_gib']} GiB, Python {m['python']}, {m['platform']}")
    say(f"libraries: {m['libraries']}")
    say(f"date: {results['date']}")
    say()
    began = time.perf_counter()

    if args.generate:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="mnemo-bench-corpus-"))
        corpus = work / "corpus"
        marker = work / "corpus.json"
        wanted = {"files": args.generate, "seed": args.seed}
        if corpus.exists() and marker.exists() and json.loads(marker.read_text()).get("params") == wanted:
            results["corpus"] = json.loads(marker.read_text())
            say(f"reusing the corpus in {corpus}")
        else:
            shutil.rmtree(corpus, ignore_errors=True)
            started = time.perf_counter()
            mix = generate(corpus, args.generate, args.data, args.seed)
            results["corpus"] = {"params": wanted, "mix": mix, "generate_s": round(time.perf_counter() - started, 1)}
            marker.write_text(json.dumps(results["corpus"]))
        mix = results["corpus"]["mix"]
        folders = len({p.parent for p in corpus.rglob("*") if p.is_file()})
        results["corpus"]["folders"] = folders
        results["corpus"]["mb"] = round(tree_bytes(corpus) / 1e6, 2)
        say(f"## Generated corpus: {args.generate} files, {results['corpus']['mb']} MB in {folders} folders")
        say(", ".join(f"{v['files']} .{k} ({v['mb']} MB)" for k, v in sorted(mix.items(), key=lambda kv: -kv[1]["files"])))
        say()
        runs = []
        for workers, label in ((1, "add, 1 worker (in-process)"), (0, "add, default workers (0 = one per core)")):
            say(f"running {label} ...")
            runs.append(ingest(corpus, workers, label))
        results["generated"] = runs
        say()
        print_runs(runs)
        if not args.no_profile:
            say("Parse and chunk cost per format (each file in this process, no catalog):")
            results["generated_profile"] = chunk_profile(sorted(p for p in corpus.rglob("*") if p.is_file()))
            print_profile(results["generated_profile"])
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    if args.embed_files:
        with tempfile.TemporaryDirectory(prefix="mnemo-bench-embed-") as work:
            corpus = Path(work) / "corpus"
            generate(corpus, args.embed_files, args.data, args.seed + 1)
            say(f"## End to end with embeddings: {args.embed_files} generated files")
            results["embedding"] = embed_run(corpus, args.embedders, args.before_src)
        print_embed_run(results["embedding"])

    if args.pdf_dir:
        files = pdf_files(args.pdf_dir, args.pdf_limit, args.seed)
        say(f"## Real PDFs under {args.pdf_dir}")
        say(f"PDF libraries on {len(files)} PDFs (fixed random sample, seed {args.seed}), at most {args.pdf_budget:.0f} s each:")
        results["pdf_libraries"] = compare_pdf_libraries(files, args.pdf_budget)
        say()
        print_libraries(results["pdf_libraries"])
        if args.pdf_profile:
            say(f"Parse and chunk cost, first {args.pdf_profile} PDFs of that sample:")
            results["pdf_profile"] = chunk_profile(files[: args.pdf_profile])
            print_profile(results["pdf_profile"])
        every = pdf_files(args.pdf_dir, args.pdf_ingest_limit, args.seed)
        say(f"running Mnemo end to end on {len(every)} PDFs ...")
        run = ingest_pdfs(every)
        results["pdf_ingest"] = run
        say()
        print_runs([run])
        say(
            table(
                ["PDFs", "pages (all)", "pages indexed", "MB", "wall s", "files/s", "pages/s (all)", "MB/s", "chunks", "chunking ms/chunk (worker time)"],
                [[run["files"], run["pages_all"], run["pages_indexed"], run["mb"], run["wall_s"], run["files_per_s"], run["pages_all_per_s"], run["mb_per_s"], run["chunks"], run["ms_per_chunk_chunking"]]],
            )
        )
        say()
        say("Not indexed, by reason: " + json.dumps(run["not_indexed_reasons"], indent=1))
        say()

    targets = args.reading_order
    if targets is None and args.pdf_dir:
        targets = [args.pdf_dir / rel for rel in TWO_COLUMN_SAMPLES if (args.pdf_dir / rel).exists()]
    if targets:
        say("## Reading order, page 1 of two-column papers (Mnemo's PDF parser):")
        results["reading_order"] = [reading_order(p) for p in targets]
        print_reading_order(results["reading_order"], args.pdf_dir or Path("/"))

    results["benchmark_wall_s"] = round(time.perf_counter() - began, 1)
    say(f"benchmark took {results['benchmark_wall_s']} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ingestion benchmark: parse + chunk + catalog throughput, and PDF parser comparison.

    python benchmarks/ingest.py                       # 2,000 generated mixed files
    python benchmarks/ingest.py --pdf-dir DIR         # plus real PDFs
    python benchmarks/ingest.py --json out.json

The generated corpus is built from the real passages in ../shared/bench/data
(msmarco, dbpedia), read at run time; nothing from it is stored in the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "data"
MIX = {"md": 0.35, "txt": 0.12, "html": 0.15, "docx": 0.10, "pdf": 0.10, "py": 0.08, "csv": 0.05, "rst": 0.05}


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
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# -- corpus ----------------------------------------------------------------------


def load_passages(data: Path) -> list[tuple[str, str]]:
    passages = []
    for name in ("msmarco", "dbpedia"):
        with (data / name / "corpus.jsonl").open() as handle:
            for line in handle:
                row = json.loads(line)
                passages.append((row.get("title") or "", row["text"]))
    return passages


def generate(root: Path, count: int, data: Path, seed: int = 7) -> dict[str, int]:
    from docx import Document as Docx
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    rng = random.Random(seed)
    passages = load_passages(data)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    styles = getSampleStyleSheet()
    made: dict[str, int] = {}
    for i, kind in enumerate(kinds):
        folder = root / f"folder{i % 40:02}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        picked = rng.sample(passages, rng.randint(3, 14))
        title = picked[0][0] or f"Document {i}"
        sections = [(p[0] or f"Part {n}", p[1]) for n, p in enumerate(picked)]
        path = folder / f"doc{i:05}.{kind}"
        if kind == "md":
            body = "\n\n".join(f"## {h}\n\n{t}" for h, t in sections)
            path.write_text(f"---\ntitle: {json.dumps(title)}\ntags: [bench, k{i % 9}]\n---\n# {title}\n\n{body}\n")
        elif kind in ("txt", "rst"):
            path.write_text("\n\n".join(t for _, t in sections) + "\n")
        elif kind == "csv":
            path.write_text("title,text\n" + "\n".join(f'"{h}","{t.replace(chr(34), "")}"' for h, t in sections))
        elif kind == "py":
            lines = [f'def f{n}():\n    """{t[:300]}"""\n    return {n}\n' for n, (_, t) in enumerate(sections)]
            path.write_text("\n\n".join(lines))
        elif kind == "html":
            body = "".join(f"<h2>{h}</h2><p>{t}</p>" for h, t in sections)
            path.write_text(
                f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a> "
                f"<a href='/about'>About us</a></nav><article><h1>{title}</h1>{body}</article>"
                f"<footer>Copyright example.org</footer></body></html>"
            )
        elif kind == "docx":
            document = Docx()
            document.add_heading(title, 1)
            for h, t in sections:
                document.add_heading(h, 2)
                document.add_paragraph(t)
            document.save(str(path))
        elif kind == "pdf":
            story = []
            for n, (h, t) in enumerate(sections):
                story += [Paragraph(_xml(h), styles["Heading2"]), Paragraph(_xml(t), styles["BodyText"])]
                if n % 4 == 3:
                    story.append(PageBreak())
            SimpleDocTemplate(str(path), pagesize=A4, title=title).build(story)
        made[kind] = made.get(kind, 0) + 1
    return made


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- measurements ----------------------------------------------------------------


def peak_rss_mb() -> dict[str, float]:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self": round(self_kb / 1024, 1), "largest_child": round(children_kb / 1024, 1)}


def ingest(corpus: Path, workers: int, label: str) -> dict[str, Any]:
    from mnemo import api
    from mnemo.config import load_settings

    home = Path(tempfile.mkdtemp(prefix="mnemo-bench-home-"))
    try:
        settings = load_settings(home, {"ingest": {"workers": workers}})
        size = tree_bytes(corpus)
        started = time.perf_counter()
        report = api.add([corpus], settings)
        wall = time.perf_counter() - started
        files = sum(report.counts[k] for k in ("indexed", "skipped", "failed"))
        chunks = report.chunks_written
        stages = {k: round(v, 2) for k, v in report.seconds.items() if k != "total"}
        cpu_total = sum(stages.values())
        started = time.perf_counter()
        again = api.sync(settings)
        noop = time.perf_counter() - started
        return {
            "label": label,
            "workers": workers or os.cpu_count(),
            "files": files,
            "counts": report.counts,
            "mb": round(size / 1e6, 2),
            "wall_s": round(wall, 2),
            "files_per_s": round(files / wall, 1),
            "mb_per_s": round(size / 1e6 / wall, 2),
            "chunks": chunks,
            "chunks_per_s": round(chunks / wall, 1),
            "stage_seconds": stages,
            "stage_share": {k: round(v / cpu_total, 3) for k, v in stages.items()} if cpu_total else {},
            "noop_sync": {
                "wall_s": round(noop, 2),
                "files_per_s": round(files / noop, 1) if noop else None,
                "counts": again.counts,
                "bytes_read": again.bytes_read,
            },
            "peak_rss_mb": peak_rss_mb(),
            "failures": [(o.path, o.reason) for o in report.outcomes if o.outcome == "failed"][:10],
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def parse_seconds_by_format(corpus: Path) -> dict[str, dict[str, float]]:
    """Parse each file directly (no chunking, no catalog) and total the time per format."""
    from mnemo.ingest.parsers import Format, ParseLimits, format_for

    totals: dict[str, dict[str, float]] = {}
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        fmt = format_for(path)
        if not isinstance(fmt, Format):
            continue
        data = path.read_bytes()
        started = time.perf_counter()
        fmt.parse(data, path, ParseLimits(max_pages=100_000))
        row = totals.setdefault(path.suffix, {"files": 0, "seconds": 0.0, "mb": 0.0})
        row["files"] += 1
        row["seconds"] += time.perf_counter() - started
        row["mb"] += len(data) / 1e6
    for row in totals.values():
        row["ms_per_file"] = round(1000 * row["seconds"] / row["files"], 2)
        row["seconds"] = round(row["seconds"], 2)
        row["mb"] = round(row["mb"], 2)
    return totals


# -- PDF libraries ---------------------------------------------------------------


def _pdfium_raw(data: bytes) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        for page in pdf:
            page.get_textpage().get_text_bounded()
        return len(pdf)
    finally:
        pdf.close()


def _mnemo_pdf(data: bytes) -> int:
    from mnemo.ingest.parsers.base import ParseLimits
    from mnemo.ingest.parsers.pdf import parse

    parsed = parse(data, Path("x.pdf"), ParseLimits(max_pages=100_000))
    return len(parsed.pages or [])


def _pypdf(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        page.extract_text()
    return len(reader.pages)


def _pdfminer(data: bytes) -> int:
    import io

    from pdfminer.high_level import extract_pages

    return sum(1 for _ in extract_pages(io.BytesIO(data)))


LIBRARIES: dict[str, Callable[[bytes], int]] = {
    "pypdfium2 (raw text)": _pdfium_raw,
    "mnemo pdf parser (pypdfium2)": _mnemo_pdf,
    "pypdf": _pypdf,
    "pdfminer.six": _pdfminer,
}


def pdf_files(folder: Path, limit: int, seed: int = 11) -> list[Path]:
    found = sorted(folder.rglob("*.pdf"))
    random.Random(seed).shuffle(found)
    return sorted(found[:limit])


def compare_pdf_libraries(files: list[Path], budget_s: float) -> list[dict[str, Any]]:
    import logging

    from mnemo.ingest.parsers import ParseSkipped

    for name in ("pypdf", "pdfminer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    blobs = [(f, f.read_bytes()) for f in files]
    results = []
    for name, parse in LIBRARIES.items():
        pages = done = failures = skipped = 0
        size = 0
        started = time.perf_counter()
        for _, data in blobs:
            if time.perf_counter() - started > budget_s:
                break
            try:
                pages += parse(data)
            except ParseSkipped:  # Mnemo's own verdict: e.g. an image-only figure
                skipped += 1
            except Exception:
                failures += 1
            done += 1
            size += len(data)
        wall = time.perf_counter() - started
        results.append(
            {
                "library": name,
                "files": done,
                "pages": pages,
                "failures": failures,
                "skipped_no_text": skipped,
                "wall_s": round(wall, 2),
                "pages_per_s": round(pages / wall, 1),
                "mb_per_s": round(size / 1e6 / wall, 2),
                "stopped_by_budget": done < len(blobs),
            }
        )
        print(f"  {name:30} {results[-1]}", flush=True)
    return results


def ingest_pdfs(files: list[Path]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="mnemo-bench-pdfs-"))
    try:
        for n, f in enumerate(files):
            (folder / f"{n:04}-{f.name}").symlink_to(f)
        result = ingest(folder, 0, "real PDFs, default workers")
        result["mb"] = round(sum(f.stat().st_size for f in files) / 1e6, 2)
        result["mb_per_s"] = round(result["mb"] / result["wall_s"], 2)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- main ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", type=int, default=2000, help="files in the generated corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared bench data folder")
    parser.add_argument("--workdir", type=Path, help="keep the generated corpus here")
    parser.add_argument("--pdf-dir", type=Path, help="folder of real PDFs")
    parser.add_argument("--pdf-limit", type=int, default=150, help="PDFs to compare libraries on")
    parser.add_argument("--pdf-budget", type=float, default=120.0, help="seconds per library at most")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()

    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(results["machine"]), flush=True)

    if args.generate:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="mnemo-bench-corpus-"))
        corpus = work / "corpus"
        if not corpus.exists():
            started = time.perf_counter()
            results["corpus_mix"] = generate(corpus, args.generate, args.data)
            print(f"generated {args.generate} files in {time.perf_counter() - started:.1f} s: {results['corpus_mix']}")
        results["generated"] = []
        for workers, label in ((1, "one process"), (0, "one worker per core")):
            run = ingest(corpus, workers, label)
            results["generated"].append(run)
            print(json.dumps(run), flush=True)
        results["parse_by_format"] = parse_seconds_by_format(corpus)
        print(json.dumps(results["parse_by_format"]), flush=True)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    if args.pdf_dir:
        files = pdf_files(args.pdf_dir, args.pdf_limit)
        print(f"PDF libraries on {len(files)} real PDFs:", flush=True)
        results["pdf_libraries"] = compare_pdf_libraries(files, args.pdf_budget)
        every = pdf_files(args.pdf_dir, 10**9)
        results["pdf_ingest"] = ingest_pdfs(every)
        print(json.dumps(results["pdf_ingest"]), flush=True)

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())

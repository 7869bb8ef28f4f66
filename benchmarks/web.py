"""Web pages by URL: the cost of adding pages from a local site, and of a sync that finds
every page unchanged (304) or changed.

    PYTHONPATH=src:tests python benchmarks/web.py --pages 200

The site is a loopback HTTP server in this process (tests/website.py), so the figures are
Mnemo's own overhead (fetch, store, parse in workers, chunk, index), not the network's.
Embeddings are off: keyword search only, as the first pass of a real add.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mnemo.config import load_settings
from mnemo.library import Library
from website import Page, serving_site

WORDS = [
    "owl",
    "heron",
    "kestrel",
    "falcon",
    "harbour",
    "turbine",
    "tide",
    "survey",
    "report",
    "blade",
    "megawatt",
    "river",
    "estuary",
    "marsh",
    "reed",
    "nest",
    "hunt",
    "vole",
    "fish",
    "spear",
    "wing",
    "feather",
    "dawn",
    "dusk",
]


def page(number: int, version: int) -> bytes:
    words = " ".join(WORDS[(number * 7 + i * 3 + version) % len(WORDS)] for i in range(400))
    return (
        f"<html><head><title>Page {number}</title></head><body><h1>Page {number}</h1>"
        f"<p>{words}.</p><p>Version {version}.</p></body></html>"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    settings = load_settings(home, {"embedding": {"backend": "none"}})
    with serving_site() as site, Library(settings) as library:
        for n in range(args.pages):
            site.pages[f"/p{n}.html"] = Page(page(n, 1), etag=f'"{n}-1"')
        urls = [f"{site.url}/p{n}.html" for n in range(args.pages)]
        started = time.perf_counter()
        report = library.add(urls)
        added = time.perf_counter() - started
        assert report.counts["indexed"] == args.pages, report.counts
        started = time.perf_counter()
        report = library.sync()
        same = time.perf_counter() - started
        assert report.counts["unchanged"] == args.pages, report.counts
        for n in range(args.pages):
            site.pages[f"/p{n}.html"] = Page(page(n, 2), etag=f'"{n}-2"')
        started = time.perf_counter()
        report = library.sync()
        changed = time.perf_counter() - started
        assert report.counts["indexed"] == args.pages, report.counts
        folder = home / "files"  # the baseline: the same pages as files, another collection
        folder.mkdir()
        for n in range(args.pages):
            (folder / f"p{n}.html").write_bytes(page(n, 1))
        started = time.perf_counter()
        report = library.add([folder], collection="files")
        files = time.perf_counter() - started
        assert report.counts["indexed"] == args.pages, report.counts
    print(f"pages: {args.pages}, workers: {settings.ingest.workers or os.cpu_count()}")
    print(f"add: {added:.1f} s ({args.pages / added:.1f} pages/s)")
    print(f"baseline, the same pages as files: {files:.1f} s ({args.pages / files:.1f} files/s)")
    print(f"sync, all unchanged (304): {same:.2f} s ({args.pages / same:.0f} pages/s)")
    print(f"sync, all changed: {changed:.1f} s ({args.pages / changed:.1f} pages/s)")


if __name__ == "__main__":
    main()

"""The image-only PDFs of the real set through OCR: ``api.add`` of a folder of them
(shipped OCR settings, two parser processes, embedding off, fresh data folder), then a
``sync``; outcomes, reasons and times as JSON.

    python benchmarks/ocr_image_only.py <folder of the image-only PDFs> out.json
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from mnemo import api
from mnemo.config import load_settings

corpus = Path(sys.argv[1])
out = Path(sys.argv[2])
home = Path(tempfile.mkdtemp(prefix="m17-ocr-home-"))
settings = load_settings(home, {"ingest": {"workers": 2}, "embedding": {"backend": "none"}})
print("ocr settings:", settings.ocr, flush=True)
t0 = time.perf_counter()
c0 = os.times()
report = api.add([corpus], settings)
wall = time.perf_counter() - t0
c1 = os.times()
docs = api.documents(settings)
reasons = {}
for o in report.outcomes:
    if o.outcome in ("skipped", "failed"):
        k = f"{o.outcome}: {(o.reason or '')[:90]}"
        reasons[k] = reasons.get(k, 0) + 1
pages = sum(d.pages or 0 for d in docs if d.status == "indexed")
t1 = time.perf_counter()
again = api.sync(settings)
noop = time.perf_counter() - t1
res = {
    "counts": report.counts,
    "wall_s": wall,
    "cpu_children_s": c1.children_user + c1.children_system - c0.children_user - c0.children_system,
    "pages_indexed": pages,
    "chunks": report.chunks_written,
    "stage_seconds": report.seconds,
    "reasons": reasons,
    "resync_s": noop,
    "resync_counts": again.counts,
    "load_after": os.getloadavg(),
}
out.write_text(json.dumps(res, indent=1, default=str))
print(json.dumps(res, indent=1, default=str))

"""Tables in real PDFs: parse every Nth PDF with table detection off and on (alternating,
twice), count the tables found and write them out for a spot check.

    python benchmarks/pdf_tables.py <folder of PDFs> [N=10] [--out tables.json]

CPU seconds of this process (``time.process_time``), so other load on the machine
inflates the figures less than wall time would; say the load average with them.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from mnemo.ingest.parsers import pdf, pdf_tables
from mnemo.ingest.parsers.base import ParseFailed, ParseLimits, ParseSkipped

_TABLE = re.compile(r"(?m)^(?:.*\n\n)?\|.*\n\|(?: --- \|)+(?:\n\|.*)*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("step", type=int, nargs="?", default=10)
    parser.add_argument("--out", type=Path, default=Path("tables.json"))
    args = parser.parse_args()
    files = sorted(args.folder.rglob("*.pdf"))[:: args.step]
    limits = ParseLimits(max_pages=5000)
    gate = {"pages": 0, "passed": 0}

    def counting(text: str) -> list[tuple[int, int]]:
        found = pdf_tables.likely(text)
        gate["pages"] += 1
        gate["passed"] += bool(found)
        return found

    modes = {"off": lambda text: [], "on": counting}
    cpu = dict.fromkeys(modes, 0.0)
    pages, found = 0, []
    for number, path in enumerate(files):
        data = path.read_bytes()
        for order in (("off", "on"), ("on", "off")):
            for mode in order:
                pdf.likely_table = modes[mode]  # type: ignore[assignment]
                started = time.process_time()
                try:
                    doc = pdf.parse(data, path, limits)
                except (ParseSkipped, ParseFailed):
                    doc = None
                cpu[mode] += time.process_time() - started
                if doc is not None and mode == "on" and order[0] == "off":
                    pages += doc.metadata["pages"]
                    for match in _TABLE.finditer(doc.text):
                        page = next(
                            (p.number for p in doc.pages or [] if p.start <= match.start() < p.end),
                            None,
                        )
                        found.append(
                            {
                                "file": str(path.relative_to(args.folder)),
                                "page": page,
                                "table": match.group(0),
                            }
                        )
        if number % 10 == 0:
            print(number, len(files), cpu, pages, len(found), gate, flush=True)
    result = {
        "files": len(files),
        "pages": pages,
        "cpu_seconds_two_rounds": cpu,
        "ms_per_page": {k: 1000 * v / 2 / max(pages, 1) for k, v in cpu.items()},
        "pages_gated": gate["passed"] // 2,
        "tables": len(found),
        "files_with_tables": len({x["file"] for x in found}),
    }
    args.out.write_text(json.dumps({"result": result, "found": found}, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""Hostile files cost their own file, within bounded memory and time, never the run.

Each bomb (tests/bombs.py) is written into a folder next to a good note and
added through `mnemo.add` with a real catalog. Small limits (256 MB per worker,
5 s per file, 64 MB inflated, 5 MB of text) make the bombs hit them quickly.
The worker's peak resident memory, reported by the run, must stay under its
budget plus the libraries it maps (about 70 MB here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import bombs
import mnemo
import mnemo.api
from mnemo.config import load_settings
from mnemo.report import RunReport

MEMORY_MB = 256
#: Shared library pages count in resident memory but not in the data limit.
MARGIN_MB = 128

LIMITS = {
    "workers": 1,
    "max_worker_memory_mb": MEMORY_MB,
    "max_parse_seconds": 5,
    "max_inflated_mb": 64,
    "max_text_mb": 5,
}


def _add_with_good_note(
    tmp_path: Path, write: Callable[[Path, int], Path], scale_mb: int, **ingest: object
) -> tuple[RunReport, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    bomb = write(folder, scale_mb)
    (folder / "good.md").write_text("# Good note\n\nPlain text that must still be indexed.\n")
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {**LIMITS, **ingest}, "embedding": {"backend": "none"}},
    )
    return mnemo.add([folder], settings), bomb


# (bomb writer, scale in MB, outcome, a phrase the reason must contain)
CASES = {
    "docx part inflating 1000:1": (
        bombs.docx_inflating_part,
        100,
        "skipped",
        "ingest.max_inflated_mb",
    ),
    "docx many tiny elements": (
        bombs.docx_many_elements,
        40,
        "failed",
        "ingest.max_worker_memory_mb",
    ),
    "docx nested zip": (bombs.docx_nested_zip, 100, "skipped", "ingest.max_inflated_mb"),
    "docx billion laughs": (bombs.docx_entity_flood, 0, "skipped", "XML entities"),
    "docx quadratic blowup": (bombs.docx_quadratic_blowup, 0, "skipped", "XML entities"),
    "docx attribute flood": (
        bombs.docx_attribute_flood,
        20,
        "failed",
        "ingest.max_worker_memory_mb",
    ),
    "docx huge image": (bombs.docx_huge_image, 100, "skipped", "ingest.max_inflated_mb"),
    "pdf huge content stream": (bombs.pdf_content_stream, 100, "skipped", "ingest.max_inflated_mb"),
    "pdf object stream": (bombs.pdf_object_stream, 100, "skipped", "ingest.max_inflated_mb"),
    "text 45 MB on one line": (bombs.one_line_text, 45, "skipped", "ingest.max_text_mb"),
    "html 45 MB page": (bombs.huge_html, 45, "failed", "ingest.max_worker_memory_mb"),
    "html deeply nested": (bombs.html_deeply_nested, 0, "skipped", "no text"),
}


@pytest.mark.slow  # one inflating file per case
@pytest.mark.parametrize("case", CASES)
def test_bomb_ends_with_a_reason_and_the_rest_is_indexed(tmp_path: Path, case: str) -> None:
    write, scale_mb, outcome, phrase = CASES[case]
    report, bomb = _add_with_good_note(tmp_path, write, scale_mb)
    states = {Path(o.path).name: (o.outcome, o.reason or "") for o in report.outcomes}
    assert states["good.md"][0] == "indexed"
    assert states[bomb.name][0] == outcome, states[bomb.name]
    assert phrase in states[bomb.name][1], states[bomb.name]
    assert 0 < report.worker_peak_mb < MEMORY_MB + MARGIN_MB


def test_ratio_limit_catches_a_bomb_under_the_size_limit(tmp_path: Path) -> None:
    report, bomb = _add_with_good_note(
        tmp_path, bombs.docx_inflating_part, 30, max_inflated_mb=1000
    )
    (refused,) = [o for o in report.outcomes if o.path == str(bomb)]
    assert refused.outcome == "skipped"
    assert "ingest.max_compression_ratio" in (refused.reason or "")
    assert report.counts["indexed"] == 1


def test_chunk_limit_stops_a_long_text_before_chunking_it(tmp_path: Path) -> None:
    report, bomb = _add_with_good_note(
        tmp_path, bombs.one_line_text, 3, max_chunks_per_file=1000, max_text_mb=50
    )
    (refused,) = [o for o in report.outcomes if o.path == str(bomb)]
    assert refused.outcome == "skipped"
    assert "at least" in (refused.reason or "")
    assert "ingest.max_chunks_per_file" in (refused.reason or "")
    assert report.seconds.get("chunk", 0.0) < 1.0  # only the good note was chunked


SLOW_TEXT = """
import time

def parse(data, path, limits):
    time.sleep(60)  # a parser stuck in a loop, as on a pathological file

def register(register):
    register(["slow"], "slowpoke", parse, "application/x-slow")
"""


@pytest.fixture
def slow_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    dist = site / "slowplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "slowplugin.py").write_text(SLOW_TEXT)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: slowplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mnemo.parsers]\nslow = slowplugin:register\n")
    monkeypatch.syspath_prepend(str(site))


@pytest.mark.slow  # waits out a parse budget
def test_a_file_over_its_time_budget_is_stopped_and_its_worker_replaced(
    tmp_path: Path, slow_plugin: None
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a-stuck.slow").write_text("never finishes")
    for i in range(3):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nText {i}.\n")
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {**LIMITS, "max_parse_seconds": 2}, "embedding": {"backend": "none"}},
    )
    report = mnemo.add([folder], settings)
    assert report.counts["indexed"] == 3
    (failed,) = report.failed
    assert failed.path == str(folder / "a-stuck.slow")
    assert failed.reason == (
        "parsing took longer than 2 s (ingest.max_parse_seconds); it was stopped and left out"
    )
    assert report.seconds["total"] < 30


@pytest.mark.slow  # every bomb through a server
def test_bombs_uploaded_to_a_server_leave_it_answering(tmp_path: Path) -> None:
    """Uploads parse in worker processes: /healthz answers within 1 s throughout, and
    each bomb's job ends with the file skipped or failed for its reason. The server is
    `mnemo serve` in its own process, as a user runs it, so the test process's own
    pauses (its heap, its threads) do not count against the server."""
    import os
    import threading
    import time

    import httpx

    from serverutil import serve_process

    folder = tmp_path / "bombs"
    folder.mkdir()
    uploads = [
        bombs.docx_inflating_part(folder, 100),
        bombs.docx_many_elements(folder, 40),
        bombs.pdf_content_stream(folder, 100),
        bombs.docx_entity_flood(folder, 0),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env |= {f"MNEMO_INGEST__{key.upper()}": str(value) for key, value in LIMITS.items()}
    env |= {
        "MNEMO_HOME": str(tmp_path / "home"),
        "MNEMO_EMBEDDING__BACKEND": "none",
        "MNEMO_SERVER__MAX_UPLOAD_MB": "40",
    }
    settings = load_settings(tmp_path / "home", {"embedding": {"backend": "none"}})
    mnemo.api.create_collection("default", settings)
    slowest: list[float] = []
    done = threading.Event()
    with serve_process(env) as (_, url), httpx.Client(base_url=url, timeout=60) as client:

        def probe() -> None:
            with httpx.Client(base_url=url, timeout=5) as prober:
                while not done.is_set():
                    started = time.perf_counter()
                    assert prober.get("/healthz").status_code == 200
                    slowest.append(time.perf_counter() - started)
                    time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            jobs = []
            for path in uploads:
                files = {"file": (path.name, path.read_bytes())}
                response = client.post("/collections/default/documents", files=files)
                assert response.status_code == 202, response.text
                jobs.append(response.json()["id"])
            outcomes = {}
            deadline = time.monotonic() + 180
            for job_id in jobs:
                while (job := client.get(f"/jobs/{job_id}").json())["state"] in (
                    "queued",
                    "running",
                ):
                    assert time.monotonic() < deadline, job
                    time.sleep(0.2)
                assert job["state"] == "done", job
                (file,) = job["report"]["files"]
                outcomes[Path(file["path"]).name] = (file["outcome"], file["reason"])
        finally:
            done.set()
            prober.join()
    assert outcomes[uploads[0].name][0] == "skipped"
    assert "ingest.max_inflated_mb" in outcomes[uploads[0].name][1]
    assert outcomes[uploads[1].name][0] == "failed"
    assert "ingest.max_worker_memory_mb" in outcomes[uploads[1].name][1]
    assert outcomes[uploads[2].name][0] == "skipped"
    assert "XML entities" in outcomes[uploads[3].name][1]
    assert len(slowest) > 5 and max(slowest) < 1.0, max(slowest)


@pytest.mark.slow  # a bomb through the command
def test_the_cli_reports_a_bomb_in_one_line_and_goes_on(
    tmp_path: Path, cli: Callable[..., object]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    bomb = bombs.docx_many_elements(folder, 40)
    (folder / "good.md").write_text("# Good note\n\nPlain text that must still be indexed.\n")
    proc = cli(
        "add",
        str(folder),
        env={
            "MNEMO_INGEST__MAX_WORKER_MEMORY_MB": str(MEMORY_MB),
            "MNEMO_EMBEDDING__BACKEND": "none",
        },
    )
    assert proc.returncode == 1, proc  # a file failed: the user should look
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    line = next(line for line in output.splitlines() if bomb.name in line)
    assert "memory budget" in line and "ingest.max_worker_memory_mb" in line
    assert "1 indexed" in output and "1 failed" in output


def test_chunk_limit_is_checked_while_chunking(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    # 590 words: under the 600 a 3-chunk limit allows, but well over 3 chunks' tokens.
    paragraphs = [" ".join(f"word{i}x{j}" for j in range(10)) for i in range(59)]
    (folder / "long.txt").write_text("\n\n".join(paragraphs))
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {**LIMITS, "max_chunks_per_file": 3}, "embedding": {"backend": "none"}},
    )
    (outcome,) = mnemo.add([folder], settings).outcomes
    assert outcome.outcome == "skipped"
    assert outcome.reason == (
        "file would make more than 3 chunks, over the limit of 3 "
        "(raise ingest.max_chunks_per_file to index it)"
    )


def test_a_pdf_with_a_large_blank_image_is_indexed_not_held_by_the_bomb_check(
    tmp_path: Path,
) -> None:
    """A scanner's blank page: 18 MB of white pixels deflate to a few kilobytes. Counting
    what the stream inflates to must end at the stream's end (it once looped for ever on
    the bytes after it, until the file's time budget failed it)."""
    from PIL import Image
    from reportlab import rl_config
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    folder = tmp_path / "docs"
    folder.mkdir()
    a85, rl_config.useA85 = rl_config.useA85, 0  # the image as plain Flate, as scanners write it
    try:
        page = canvas.Canvas(str(folder / "fog.pdf"))
        page.drawString(72, 760, "The harbour survey counted 42 seals on the north pier.")
        white = ImageReader(Image.new("RGB", (3000, 2000), "white"))
        page.drawImage(white, 72, 300, width=400, height=260)
        page.showPage()
        page.save()
    finally:
        rl_config.useA85 = a85
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {"workers": 1, "max_parse_seconds": 30}, "embedding": {"backend": "none"}},
    )
    (outcome,) = mnemo.add([folder], settings).outcomes
    assert outcome.outcome == "indexed", outcome.reason
    hits = mnemo.search("how many seals", settings).hits
    assert hits and "42 seals" in hits[0].text

"""The web app in a real browser (Debian's chromium driven by Playwright): how soon an
answer starts to show and when it is complete, and what the library page costs with
10,000 documents.

1. Answers. 500 msmarco passages from ../shared/bench (the relevant ones of the first
   20 queries among them) are indexed with default settings into
   ``bench-out/ui/chat-home``. ``mnemo serve`` runs in its own process; for each of the
   20 queries the chat page is opened, the question typed and Ask clicked, and a
   MutationObserver in the page records when the first answer text appears (a
   streamed token, or the whole answer when nothing streams) and when the checked
   answer replaces the stream. Twice: extractive (no model), and with the scripted
   OpenAI-compatible server of tests/llmserver.py writing a 45-word answer at
   ``--pace`` seconds a word (its first word comes at once, so time to first token
   is Mnemo's own: retrieval, reranking, the prompt, the stream to the page).
2. Library page. 10,000 small text files are indexed (``embedding.backend = none``:
   the page does not depend on vectors) into ``bench-out/ui/library-home``; each page
   below is loaded 20 times after a warm-up, in the browser (navigation start to the
   load event, bytes of HTML and of all resources, rows in the table) and fetched
   with httpx (server time for the HTML alone).

    python benchmarks/ui.py                 # both
    python benchmarks/ui.py --only answers  # or --only library
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "bench" / "data" / "msmarco"
WORK = ROOT / "bench-out" / "ui"
QUESTIONS = 20
PASSAGES = 500
DOCUMENTS = 10_000
RUNS = 20
REPLY = (
    "The passage gives the answer directly [1]. It states the facts the question asks "
    "about and names the figures that matter [1]. A second source adds context on how "
    "the figures were measured and where they came from, with the dates given [2]."
)

_OBSERVE = """() => {
  const turns = document.getElementById('turns');
  const t = (window.__t = {});
  new MutationObserver(() => {
    const now = performance.now();
    const stream = turns.querySelector('article.streaming .answer');
    const done = turns.querySelector('article.turn:not(.streaming)');
    if (t.first === undefined && ((stream && stream.textContent.length) || done)) t.first = now;
    if (t.done === undefined && done) t.done = now;
  }).observe(turns, { childList: true, subtree: true, characterData: true });
  t.start = performance.now();
  document.querySelector('#ask button[type=submit]').click();
}"""
_NAVIGATION = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  return {
    load_ms: nav.loadEventEnd - nav.startTime,
    response_ms: nav.responseEnd - nav.startTime,
    html_bytes: nav.decodedBodySize,
    resource_bytes: resources.reduce((n, r) => n + r.decodedBodySize, 0),
    rows: document.querySelectorAll('table.docs tbody tr').length,
  };
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mnemo_serve(home: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``mnemo serve`` in its own process, as a user runs it; yields its URL."""
    import httpx

    port = free_port()
    environ = {**os.environ, "MNEMO_HOME": str(home), **(env or {})}
    environ["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mnemo serve did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(60)


def p50(values: list[float]) -> float:
    return statistics.median(values)


# -- answers ---------------------------------------------------------------------------


def chat_library() -> tuple[Path, list[str]]:
    """The indexed passages' home and the 20 questions."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from retrieval import load_set, write_corpus

    import mnemo

    corpus, queries, qrels = load_set(DATA)
    asked = [q for q in queries if any(s > 0 for s in qrels.get(q, {}).values())][:QUESTIONS]
    # Up to 3 relevant passages a question; the rest of the 500 are others.
    wanted = {d for q in asked for d in [d for d, s in qrels[q].items() if s > 0][:3]}
    chosen = [d for d in corpus if d["_id"] in wanted]
    chosen += [d for d in corpus if d["_id"] not in wanted][: max(0, PASSAGES - len(chosen))]
    home = WORK / "chat-home"
    if not (home / "catalog.db").exists():
        write_corpus(chosen, WORK / "chat-docs")
        report = mnemo.add([WORK / "chat-docs"], mnemo.load_settings(home))
        assert report.counts["indexed"] == len(chosen), report.counts
    return home, [queries[q] for q in asked]


def time_answers(browser: Any, url: str, questions: list[str]) -> dict[str, Any]:
    firsts, dones, kinds = [], [], []
    page = browser.new_page(bypass_csp=True)  # the timing script runs in the page
    page.set_default_timeout(120_000)
    for question in [questions[0], *questions]:  # the first is a warm-up
        page.goto(url + "/ui/chat")
        page.fill("#question", question)
        page.evaluate(_OBSERVE)
        page.wait_for_function("() => window.__t.done !== undefined")
        t = page.evaluate("() => window.__t")
        kinds.append(page.get_attribute("#turns article.turn:not(.streaming)", "class"))
        firsts.append(t["first"] - t["start"])
        dones.append(t["done"] - t["start"])
    page.close()
    return {
        "first_text_ms_p50": round(p50(firsts[1:]), 1),
        "complete_ms_p50": round(p50(dones[1:]), 1),
        "first_text_ms_max": round(max(firsts[1:]), 1),
        "complete_ms_max": round(max(dones[1:]), 1),
        "kinds": {k: kinds[1:].count(k) for k in sorted(set(kinds[1:]))},
    }


def answers(browser: Any, pace: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    from llmserver import MODEL, Script, serve_openai

    home, questions = chat_library()
    found: dict[str, Any] = {}
    with mnemo_serve(home) as url:
        found["extractive"] = time_answers(browser, url, questions)
    script = Script(replies=[REPLY] * (len(questions) + 1), pace=pace)
    with serve_openai(script) as llm_url:
        env = {
            "MNEMO_LLM__PROVIDER": "openai-compatible",
            "MNEMO_LLM__MODEL": MODEL,
            "MNEMO_LLM__BASE_URL": llm_url,
            "MNEMO_LLM__MAX_RETRIES": "0",
        }
        with mnemo_serve(home, env) as url:
            found["scripted model"] = time_answers(browser, url, questions)
    found["model pace s/word"] = pace
    return found


# -- library page ----------------------------------------------------------------------


def big_library() -> Path:
    import mnemo

    home = WORK / "library-home"
    if (home / "catalog.db").exists():
        return home
    docs = WORK / "library-docs"
    for n in range(DOCUMENTS):
        folder = docs / f"box-{n // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"report-{n:05d}.txt").write_text(
            f"Report {n}. Shipment {n % 97} left dock {n % 13} on day {n % 365}.\n"
        )
    settings = mnemo.load_settings(home, {"embedding": {"backend": "none"}})
    started = time.perf_counter()
    report = mnemo.add([docs], settings)
    print(f"indexed {report.counts} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return home


PAGES = {
    "first page, by path": "/ui/library",
    "page 150, by passages, descending": "/ui/library?sort=chunks&desc=1&page=150",
    "path filter report-0999": "/ui/library?q=report-0999",
}


def library_page(browser: Any) -> dict[str, Any]:
    import httpx

    home = big_library()
    found: dict[str, Any] = {}
    with mnemo_serve(home, {"MNEMO_EMBEDDING__BACKEND": "none"}) as url:
        for label, path in PAGES.items():
            page = browser.new_page(bypass_csp=True)
            loads = []
            for _ in range(RUNS + 1):
                page.goto(url + path, wait_until="load")
                loads.append(page.evaluate(_NAVIGATION))
            first = dict(loads[0])
            page.close()
            fresh = browser.new_page(bypass_csp=True)  # nothing cached: the whole weight
            fresh.goto(url + path, wait_until="load")
            cold = fresh.evaluate(_NAVIGATION)
            fresh.close()
            with httpx.Client(base_url=url) as client:
                client.get(path)
                server = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    client.get(path).raise_for_status()
                    server.append((time.perf_counter() - started) * 1000)
            found[label] = {
                "rows": first["rows"],
                "html_bytes": first["html_bytes"],
                "total_bytes_cold": cold["html_bytes"] + cold["resource_bytes"],
                "browser_load_ms_p50": round(p50([x["load_ms"] for x in loads[1:]]), 1),
                "server_ms_p50": round(p50(server), 1),
            }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["answers", "library"])
    parser.add_argument("--pace", type=float, default=0.02, help="scripted model: s per word")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install chromium")
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"load_average_before": os.getloadavg()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        if args.only in (None, "answers"):
            results["answers"] = answers(browser, args.pace)
        if args.only in (None, "library"):
            results["library page, 10,000 documents"] = library_page(browser)
        browser.close()
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    (WORK / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

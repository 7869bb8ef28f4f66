"""The web app's graph view and digest page: served pages and data (TestClient), and the
drawing in a real browser (Debian's chromium through Playwright; skipped without it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mnemo
from mnemo.config import Settings, load_settings
from mnemo.server.app import create_app
from serverutil import serving

NOTES = {
    "Whales.md": "# Whales\n\nBlue whales eat krill. See [[Krill]] and [[Oceans]].\n",
    "Krill.md": "# Krill\n\nKrill swarm in cold seas. Eaten by [[Whales]].\n",
    "Oceans.md": "# Oceans\n\nOceans cover most of the planet. [[Tides]] [[Plankton bloom]]\n",
    "Tides.md": "# Tides\n\nThe moon pulls the tides.\n",
    "Rails.md": "# Rails\n\nSteam trains ran on [[Stations|station]] lines.\n",
    "Stations.md": "# Stations\n\nPlatforms and [[Rails]].\n",
}


def build(root: Path) -> Settings:
    vault = root / "vault"
    vault.mkdir(parents=True)
    for name, text in NOTES.items():
        (vault / name).write_text(text)
    settings = load_settings(
        root / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"rate_limit": 100_000},
        },
    )
    assert mnemo.add([vault], settings).counts["indexed"] == len(NOTES)
    return settings


def test_graph_data_pages_and_the_packaged_script(tmp_path: Path) -> None:
    settings = build(tmp_path)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        data = client.get("/ui/graph.json").json()
        labels = {n["label"] for n in data["nodes"]}
        assert {"Whales", "Krill", "Rails", "plankton bloom"} <= labels
        group = {n["label"]: n["group"] for n in data["nodes"]}
        assert group["Rails"] == group["Stations"] != group["Whales"] == group["Krill"]
        assert data["clusters"] >= 2 and data["total"] == len(NOTES)
        whales = next(n["id"] for n in data["nodes"] if n["label"] == "Whales")
        near = client.get(f"/ui/graph.json?doc={whales}").json()
        assert {n["label"] for n in near["nodes"]} == {"Whales", "Krill", "Oceans"}
        page = client.get(f"/ui/graph?doc={whales}")
        assert page.status_code == 200 and "Around Whales" in page.text
        script = client.get("/ui/vendor/vis-network.min.js")
        assert script.status_code == 200
        assert (
            script.content
            == (files("pyvis") / "lib" / "vis-9.1.2" / "vis-network.min.js").read_bytes()
        )
        assert client.get("/ui/vendor/other.js").status_code == 404
        digest = client.get("/ui/digest?since=7d")
        assert digest.status_code == 200
        assert "Links to missing notes" in digest.text and "plankton bloom" in digest.text
        assert client.get("/ui/digest?since=forever").status_code in (400, 422)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "ui"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_graph_is_drawn_searchable_and_opens_a_note(browser: object, tmp_path: Path) -> None:
    settings = build(tmp_path)
    with serving(settings) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "/ui/graph")
        status = page.locator("#graph-status")
        status.filter(has_text="clusters").wait_for()
        assert status.inner_text().startswith("7 notes, 7 connections, ")
        assert page.locator("#graph canvas").count() == 1
        page.wait_for_timeout(1500)  # let the layout settle for the picture
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "graph.png"))
        page.fill("#graph-find", "krill")  # found and selected as the user types ...
        page.press("#graph-find", "Enter")  # ... and opened with Enter
        page.wait_for_url("**/ui/view?**")
        assert "Krill swarm in cold seas" in page.inner_text("main")
        assert not [e for e in errors if "Content Security Policy" in e or "vis" in e]
        page.goto(url + "/ui/digest")
        page.screenshot(path=str(SHOTS / "digest.png"), full_page=True)
        assert "plankton bloom" in page.inner_text("main")

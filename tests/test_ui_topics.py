"""The web app's Topics page (topic -> its notes -> open one) and the admin page that
downloads a collection's archive and imports one into a new collection, through the
test client, with keys of each scope."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mnemo
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.server.app import create_app
from mnemo.server.auth import create_key
from serverutil import serving
from test_ui_graph import SHOTS, browser  # noqa: F401 - the chromium fixture
from uiutil import csrf

BASE = "http://127.0.0.1"
NOTES = {
    "Whales.md": "# Whales\n\nBlue whales eat krill. See [[Krill]] and [[Oceans]].\n",
    "Krill.md": "# Krill\n\nKrill swarm in cold seas. Eaten by [[Whales]].\n",
    "Oceans.md": "# Oceans\n\nOceans cover most of the planet; whales swim there. [[Whales]]\n",
    "Rails.md": "# Rails\n\nSteam trains ran on [[Stations|station]] lines.\n",
    "Stations.md": "# Stations\n\nPlatforms, trains and [[Rails]].\n",
}


def build(tmp_path: Path) -> Settings:
    vault = tmp_path / "vault"
    vault.mkdir()
    for name, text in NOTES.items():
        (vault / name).write_text(text)
    settings = load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"rate_limit": 100_000},
        },
    )
    assert mnemo.add([vault], settings).counts["indexed"] == len(NOTES)
    return settings


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = build(tmp_path)
    with Catalog(settings.catalog_path) as catalog:
        keys = {s: create_key(catalog, s, f"{s}-key")[1] for s in ("read", "admin")}  # type: ignore[arg-type]
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, keys


def sign_in(client: TestClient, key: str) -> None:
    client.cookies.clear()
    token = csrf(client.get("/ui/signin").text)
    response = client.post("/ui/signin", data={"csrf": token, "key": key}, follow_redirects=False)
    assert response.status_code == 303


def test_topics_page_leads_from_a_topic_to_its_notes(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = keyed
    sign_in(client, keys["read"])
    listing = client.get("/ui/topics")
    assert listing.status_code == 200
    assert re.findall(r'href="/ui/topics\?c=default&amp;t=(\d+)"', listing.text) == ["0", "1"]
    assert ">Topics</a>" in listing.text  # in the main menu
    sizes = re.findall(r"(\d+) notes", listing.text)
    assert sizes == ["3", "2"]
    whales = client.get("/ui/topics?c=default&t=0")
    assert whales.status_code == 200
    opened = re.findall(r'href="(/ui/view\?c=default&amp;doc=[^"]+)">([^<]+)</a>', whales.text)
    assert {title for _, title in opened} == {"Whales", "Krill", "Oceans"}
    note = client.get(opened[0][0].replace("&amp;", "&"))
    assert note.status_code == 200 and opened[0][1] in note.text
    assert client.get("/ui/topics?t=9").status_code == 404
    # a read key sees no export or import
    assert "/ui/archive" not in listing.text
    assert client.get("/ui/archive").status_code == 403
    assert client.get("/ui/archive/download").status_code == 403


def test_admin_downloads_an_archive_and_imports_it_into_a_new_collection(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = keyed
    sign_in(client, keys["read"])
    token = csrf(client.get("/ui/topics").text)
    refused = client.post(
        "/ui/archive/import",
        data={"csrf": token, "name": "copy"},
        files={"archive": ("a.zip", b"PK")},
    )
    assert refused.status_code == 403

    sign_in(client, keys["admin"])
    settings_page = client.get("/ui/settings").text
    assert 'href="/ui/archive' in settings_page
    page = client.get("/ui/archive")
    assert page.status_code == 200 and "Download the archive" in page.text
    got = client.get("/ui/archive/download?c=default")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(got.content)).namelist()

    token = csrf(page.text)
    no_token = client.post(
        "/ui/archive/import", data={"name": "copy"}, files={"archive": ("a.zip", got.content)}
    )
    assert no_token.status_code == 403
    made = client.post(
        "/ui/archive/import",
        data={"csrf": token, "name": "copy"},
        files={"archive": ("default.mnemo.zip", got.content)},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/ui/library?c=copy"
    library = client.get("/ui/library?c=copy")
    assert "imported collection" in library.text and "Whales" in library.text
    again = client.post(
        "/ui/archive/import",
        data={"csrf": token, "name": "copy"},
        files={"archive": ("default.mnemo.zip", got.content)},
    )
    assert again.status_code == 400 and "exists already" in again.text
    junk = client.post(
        "/ui/archive/import",
        data={"csrf": token, "name": "junk"},
        files={"archive": ("a.zip", b"not a zip")},
    )
    assert junk.status_code == 400 and "not a Mnemo archive" in junk.text
    assert "/tmp/" not in junk.text


@pytest.mark.browser
@pytest.mark.slow
def test_a_topic_opens_to_its_notes_in_a_browser(browser: object, tmp_path: Path) -> None:  # noqa: F811
    settings = build(tmp_path)
    with serving(settings) as url:
        page = browser.new_page(viewport={"width": 1000, "height": 700})  # type: ignore[attr-defined]
        page.set_default_timeout(60_000)
        page.goto(url + "/ui/topics")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "topics.png"))
        page.locator("ol.topic-list a").first.click()
        page.wait_for_url("**/ui/topics?**t=0")
        assert "3 notes" in page.inner_text("main")
        page.locator("ul.topic-notes a", has_text="Krill").click()
        page.wait_for_url("**/ui/view?**")
        assert "Krill swarm in cold seas" in page.inner_text("main")

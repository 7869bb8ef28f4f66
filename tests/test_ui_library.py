"""The library page through the test client: messages after a form without the page's
script, re-syncing sources, and the viewer's window on a long document."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mnemo
from mnemo.config import Settings
from mnemo.server.app import create_app
from uiutil import build, csrf

BASE = "http://127.0.0.1"
SECTIONS = 150


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings, Path]]:
    root = tmp_path_factory.mktemp("library")
    settings = build(root)
    long = root / "docs" / "long.md"
    long.write_text(
        "\n\n".join(
            f"## Section {n}\n\nParagraph {n} tells of marker{n:03d} and the tides of day {n}."
            for n in range(SECTIONS)
        )
        + "\n"
    )
    mnemo.add([long], settings)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, settings, root


def wait_for_jobs(client: TestClient) -> None:
    deadline = time.monotonic() + 120
    while "data-poll" in client.get("/ui/jobs").text:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)


def test_an_upload_without_the_script_says_what_it_did_after_the_redirect(
    site: tuple[TestClient, Settings, Path],
) -> None:
    client, _, _ = site
    token = csrf(client.get("/ui/library").text)
    response = client.post(
        "/ui/upload",
        data={"csrf": token, "c": "default"},
        files=[("files", ("geese.md", b"# Geese\n\nGeese fly in a V to save energy.\n"))],
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/library?c=default"
    page = client.get(response.headers["location"]).text
    assert (
        '<p class="msg info flash" role="status">1 file uploaded; indexing has started</p>' in page
    )
    assert "indexing has started" not in client.get("/ui/library").text  # shown once
    wait_for_jobs(client)


def test_a_forged_message_cookie_is_shown_as_text_or_not_at_all(
    site: tuple[TestClient, Settings, Path],
) -> None:
    import base64
    import json

    client, _, _ = site
    forged = base64.urlsafe_b64encode(json.dumps([["info", "<script>x()</script>"]]).encode())
    client.cookies.set("mnemo_flash", forged.decode(), path="/ui")
    page = client.get("/ui/library").text
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page
    client.cookies.set("mnemo_flash", "%%%not-base64", path="/ui")
    assert client.get("/ui/library").status_code == 200
    client.cookies.delete("mnemo_flash", path="/ui")


def test_re_sync_indexes_a_changed_file_again(site: tuple[TestClient, Settings, Path]) -> None:
    client, _, root = site
    allowed = root / "allowed"
    note = allowed / "moths.md"
    note.write_text("# Moths\n\nMoths navigate by the moon.\n")
    token = csrf(client.get("/ui/library").text)
    client.post("/ui/sources", data={"csrf": token, "c": "default", "path": str(allowed)})
    wait_for_jobs(client)
    page = client.get("/ui/library").text
    assert f'<input type="hidden" name="path" value="{allowed}">' in page
    assert "outside this server's folders" in page  # docs/ was added with the CLI

    note.write_text("# Moths\n\nMoths navigate by the moon and by lanterns.\n")
    synced = client.post("/ui/sync", data={"csrf": token, "c": "default", "path": str(allowed)})
    assert synced.status_code == 200 and "re-syncing 1 source" in synced.text
    wait_for_jobs(client)
    assert "<mark>lanterns</mark>" in client.get("/ui/search", params={"q": "lanterns"}).text

    every = client.post("/ui/sync", data={"csrf": token, "c": "default"})
    assert every.status_code == 200 and "re-syncing 1 source" in every.text
    assert "outside the server" in every.text  # docs/ was left, and said so
    wait_for_jobs(client)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/etc", "is not a source of collection"), ("docs", "is not a source of collection")],
)
def test_only_a_collections_own_readable_sources_are_re_synced(
    site: tuple[TestClient, Settings, Path], path: str, expected: str
) -> None:
    client, _, _ = site
    token = csrf(client.get("/ui/library").text)
    response = client.post("/ui/sync", data={"csrf": token, "c": "default", "path": path})
    assert response.status_code == 400 and expected in html.unescape(response.text)


def test_a_source_outside_the_servers_folders_is_not_re_synced(
    site: tuple[TestClient, Settings, Path],
) -> None:
    client, _, root = site
    token = csrf(client.get("/ui/library").text)
    outside = str(root / "docs")
    response = client.post("/ui/sync", data={"csrf": token, "c": "default", "path": outside})
    assert response.status_code == 400 and "mnemo sync -c default" in response.text


def test_a_long_document_shows_a_window_around_the_passage(
    site: tuple[TestClient, Settings, Path],
) -> None:
    client, _, _ = site
    hits = client.get("/ui/search", params={"q": "marker120", "mode": "bm25"}).text
    link = html.unescape(re.findall(r'href="(/ui/view[^"]*)"', hits)[0])
    viewer = client.get(link).text
    shown = re.search(r"passages (\d+)–(\d+) of (\d+)", viewer)
    assert shown, "a long document shows where in it the window is"
    first, last, total = map(int, shown.groups())
    assert total >= 100 and last - first + 1 <= 40
    assert 'id="cited"' in viewer and "marker120" in viewer
    assert "marker000" not in viewer and "marker149" not in viewer
    earlier = html.unescape(re.findall(r'href="([^"]*)" rel="prev">Earlier text', viewer)[0])
    before = client.get(earlier).text
    assert f"passages {max(1, first - 40)}–" in before and 'id="cited"' not in before
    assert "Back to the cited passage" in before
    assert len(viewer) < 60_000  # never the whole document

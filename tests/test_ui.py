"""The web app through FastAPI's test client: sign-in, scopes, every page and action,
and bad input, which must get a clear message in the page and break nothing."""

from __future__ import annotations

import html
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mnemo.catalog import Catalog
from mnemo.server.app import create_app
from mnemo.server.auth import create_key
from uiutil import build, csrf

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """An open loopback server (no keys): the single-user laptop case."""
    root = tmp_path_factory.mktemp("ui")
    settings = build(root, max_upload_mb=1)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, root


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    root = tmp_path_factory.mktemp("ui-keys")
    settings = build(root)
    with Catalog(settings.catalog_path) as catalog:
        keys = {s: create_key(catalog, s, f"{s}-key")[1] for s in ("read", "write")}  # type: ignore[arg-type]
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, keys


def links(page: str, prefix: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', page)]


def signed_in(client: TestClient, key: str) -> TestClient:
    client.cookies.clear()
    token = csrf(client.get("/ui/signin").text)
    response = client.post("/ui/signin", data={"csrf": token, "key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


# -- opening, signing in, scopes -------------------------------------------------------


def test_loopback_without_keys_opens_the_library(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    page = client.get("/")
    assert page.status_code == 200 and "<h1>Library" in page.text
    assert "tidal.pdf" in page.text and 'type="file"' in page.text  # write controls
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert client.get("/ui/static/app.js").status_code == 200


def test_keys_need_sign_in_and_a_wrong_key_is_refused(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = keyed
    client.cookies.clear()
    first = client.get("/ui/library", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/ui/signin"
    token = csrf(client.get("/ui/signin").text)
    wrong = client.post("/ui/signin", data={"csrf": token, "key": "mnemo_x_nope"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    assert "mnemo_session" not in wrong.headers.get("set-cookie", "")


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_clears_it(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = keyed
    client.cookies.clear()
    token = csrf(client.get("/ui/signin").text)
    response = client.post(
        "/ui/signin", data={"csrf": token, "key": keys["write"]}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "mnemo_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/ui" in cookie
    page = client.get("/ui/library")
    assert "write-key · write" in page.text and 'type="file"' in page.text
    # The cookie opens the web app's pages only, not the REST API.
    assert client.get("/collections/default/documents").status_code == 401
    client.post("/ui/signout", data={"csrf": csrf(page.text)})
    assert client.get("/ui/library", follow_redirects=False).status_code == 303


def test_sign_in_without_the_form_token_is_refused(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = keyed
    client.cookies.clear()
    response = client.post("/ui/signin", data={"key": keys["write"]}, follow_redirects=False)
    assert response.status_code == 403 and "reload the page" in response.text


def test_a_read_key_sees_no_write_controls_and_cannot_write(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client = signed_in(keyed[0], keyed[1]["read"])
    pages = [client.get(p).text for p in ("/ui/library", "/ui/chat", "/ui/search?q=whales")]
    for page in pages:
        assert "read-key · read" in page
        for control in ('type="file"', "/ui/sources", "/ui/collections", "Remove", "Delete"):
            assert control not in page
    token = csrf(pages[0])
    refused = client.post("/ui/collections", data={"csrf": token, "name": "sneaky"})
    assert refused.status_code == 403 and "scope 'write'" in html.unescape(refused.text)
    assert "sneaky" not in client.get("/ui/library").text


def test_a_cross_site_form_post_is_refused(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    token = csrf(client.get("/ui/library").text)
    response = client.post(
        "/ui/collections",
        data={"csrf": token, "name": "evil"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    missing = client.post("/ui/collections", data={"name": "evil"})
    assert missing.status_code == 403 and "reload the page" in missing.text


# -- library -----------------------------------------------------------------------------


def test_collections_create_switch_and_delete_with_confirmation(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    token = csrf(client.get("/ui/library").text)
    made = client.post("/ui/collections", data={"csrf": token, "name": "papers"})
    assert made.status_code == 200 and '<h1>Library <span class="sub">papers' in made.text
    assert '<option value="papers" selected>' in made.text
    confirm = client.get("/ui/collections/papers/delete")
    assert "Type <strong>papers</strong> to confirm" in confirm.text
    unconfirmed = client.post("/ui/collections/papers/delete", data={"csrf": token})
    assert unconfirmed.status_code == 400 and "papers" in client.get("/ui/library").text
    gone = client.post("/ui/collections/papers/delete", data={"csrf": token, "confirm": "papers"})
    assert gone.status_code == 200 and '<option value="papers"' not in gone.text


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", "x" * 65, "<b>"])
def test_bad_collection_names_get_a_message(site: tuple[TestClient, Path], name: str) -> None:
    client, _ = site
    token = csrf(client.get("/ui/library").text)
    response = client.post("/ui/collections", data={"csrf": token, "name": name})
    assert response.status_code == 400
    assert "is not allowed: use 1 to 64 letters" in response.text
    assert "<b>" not in response.text.split("<main", 1)[1]
    assert client.get("/ui/library").status_code == 200


def test_documents_are_paged_sorted_and_filtered(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    page = client.get("/ui/library?sort=chunks&desc=1")
    assert "3 documents; showing 1–3" in page.text
    assert ">indexed</span>" in page.text
    only = client.get("/ui/library", params={"q": "whales"})
    assert "1 document; showing 1–1" in only.text and "tidal.pdf" not in only.text
    assert "No documents match" in client.get("/ui/library?state=failed").text
    assert client.get("/ui/library?sort=secret").status_code == 400


def wait_for_jobs(client: TestClient, collection: str = "default") -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fragment = client.get("/ui/jobs", params={"c": collection}).text
        if "data-poll" not in fragment:
            return fragment
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def test_upload_many_files_runs_one_job_with_a_report(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    token = csrf(client.get("/ui/library").text)
    files = [
        ("files", ("otters.md", b"# Otters\n\nSea otters hold hands while they sleep.\n")),
        ("files", ("hares.txt", b"Hares are born with fur and open eyes.\n")),
    ]
    response = client.post(
        "/ui/upload",
        data={"csrf": token, "c": "default"},
        files=files,
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 200 and "2 files uploaded" in response.text
    fragment = wait_for_jobs(client)
    assert 'data-state="done"' in fragment and "2 of 2 files" in fragment
    assert f"{socket.gethostname()}:{os.getpid()}" in fragment  # the process that ran it
    assert "otters.md" in client.get("/ui/library").text
    hits = client.get("/ui/search", params={"q": "otters sleep"}).text
    assert "<mark>otters</mark>" in hits.lower() or "<mark>Otters</mark>" in hits


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.md", b"", "the file is empty"),
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "not PDF, DOCX, PPTX"),
        ("big.txt", b"a" * (1024 * 1024 + 10), "over server.max_upload_mb"),
        ("fake.pdf", b"just words", "the content is text"),
    ],
)
def test_bad_uploads_get_a_message_naming_the_file(
    site: tuple[TestClient, Path], name: str, data: bytes, expected: str
) -> None:
    client, _ = site
    token = csrf(client.get("/ui/library").text)
    response = client.post(
        "/ui/upload",
        data={"csrf": token, "c": "default"},
        files=[("files", (name, data))],
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code in (400, 413) and expected in response.text
    assert name in html.unescape(response.text)


def test_server_paths_outside_the_allowed_roots_are_refused(
    site: tuple[TestClient, Path],
) -> None:
    client, root = site
    token = csrf(client.get("/ui/library").text)
    for path, status in [("/etc", 403), (str(root / "allowed" / ".." / "docs"), 403)]:
        response = client.post("/ui/sources", data={"csrf": token, "c": "default", "path": path})
        assert response.status_code == status
        assert "outside the folders" in response.text or "could lead outside" in response.text
    (root / "allowed" / "owls.md").write_text("# Owls\n\nOwls turn their heads far round.\n")
    added = client.post(
        "/ui/sources", data={"csrf": token, "c": "default", "path": str(root / "allowed")}
    )
    assert added.status_code == 200
    assert 'data-state="done"' in wait_for_jobs(client)


# -- search, viewer, HTML in names and passages ------------------------------------------


def test_search_shows_file_page_heading_and_marked_words(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    page = client.get("/ui/search", params={"q": "turbine megawatts", "mode": "bm25"}).text
    assert "tidal.pdf" in page and "page 1" in page
    assert "<mark>turbine</mark>" in page and "<mark>megawatts</mark>" in page
    whales = client.get("/ui/search", params={"q": "blue whales"}).text
    assert '<span class="heading">Whales</span>' in whales


def test_html_in_a_file_name_and_a_passage_is_shown_as_text(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    for page in (
        client.get("/ui/search", params={"q": "ravens crows"}).text,
        client.get("/ui/library").text,
    ):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;script&gt;.md" in page
    hits = client.get("/ui/search", params={"q": "ravens crows"}).text
    viewer = client.get(links(hits, "/ui/view")[0]).text
    assert "&lt;script&gt;alert(&#39;passage&#39;)&lt;/script&gt;" in viewer
    assert "<script>alert" not in viewer


def test_a_query_of_ten_thousand_characters_gets_a_message(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    response = client.get("/ui/search", params={"q": "whales " * 1500})
    assert response.status_code == 400 and "at most 10,000 are searched" in response.text
    assert client.get("/ui/search", params={"q": "whales"}).status_code == 200


def test_a_bad_date_filter_gets_a_message(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    response = client.get("/ui/search", params={"q": "whales", "after": "2024-13-01"})
    assert response.status_code == 400 and "is not a date (YYYY-MM-DD)" in response.text


def test_a_pdf_result_opens_its_page_with_the_passage_highlighted(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    hits = client.get("/ui/search", params={"q": "turbine megawatts"}).text
    viewer = client.get(links(hits, "/ui/view")[0])
    assert viewer.status_code == 200 and "page 1 of 2" in viewer.text
    image_url = html.unescape(re.findall(r'src="(/ui/page\.png[^"]+)"', viewer.text)[0])
    highlighted = client.get(image_url)
    plain = client.get(re.sub(r"&chunk=[^&]+", "", image_url))
    assert highlighted.headers["content-type"] == "image/png"
    assert highlighted.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert yellow_pixels(highlighted.content) > 1000 > yellow_pixels(plain.content)
    next_page = client.get(links(viewer.text, "/ui/view")[0] if "Next page" in viewer.text else "")
    assert "page 2 of 2" in next_page.text
    assert client.get(image_url.replace("page=1", "page=9")).status_code == 400


def yellow_pixels(png: bytes) -> int:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 230 and g > 200 and b < 150)


def test_a_text_citation_shows_the_document_with_the_passage_marked(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    hits = client.get("/ui/search", params={"q": "blue whales"}).text
    viewer = client.get(links(hits, "/ui/view")[0]).text
    assert 'id="cited"' in viewer and '<mark class="passage">' in viewer
    assert "largest animals" in viewer


def test_the_original_file_is_served_only_from_allowed_folders(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    library = client.get("/ui/library", params={"q": "tidal"}).text
    doc = links(library, "/ui/view")[0]
    assert "Download the original" not in client.get(doc).text  # docs/ is not allowed
    refused = client.get(doc.replace("/ui/view", "/ui/file"))
    assert refused.status_code == 400 and "not below a folder" in refused.text


# -- chat ----------------------------------------------------------------------------------


def test_an_extractive_answer_is_labelled_and_its_chips_open_the_passage(
    site: tuple[TestClient, Path],
) -> None:
    client, _ = site
    token = csrf(client.get("/ui/chat").text)
    page = client.post(
        "/ui/chat/ask",
        data={"csrf": token, "c": "default", "question": "How much did the turbine array produce?"},
    )
    assert page.status_code == 200
    assert "Extractive answer" in page.text and "42 megawatts" in page.text
    chip = links(page.text, "/ui/view")[0]
    assert "chunk=" in chip
    assert "page 1 of 2" in client.get(chip).text or "page 2 of 2" in client.get(chip).text
    conv = re.search(r'name="conv" value="([0-9a-f]+)"', page.text)
    assert conv, "a conversation was started"
    resumed = client.get("/ui/chat", params={"conv": conv.group(1)}).text
    assert "How much did the turbine array produce?" in resumed
    client.post("/ui/chat/delete", data={"csrf": token, "c": "default", "conv": conv.group(1)})
    assert "How much did the turbine" not in client.get("/ui/chat").text


def test_chat_streams_events_for_the_page_script(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    token = csrf(client.get("/ui/chat").text)
    with client.stream(
        "POST",
        "/ui/chat/ask",
        data={
            "csrf": token,
            "c": "default",
            "question": "Which animals are the largest ever known?",
        },
        headers={"Accept": "text/event-stream", "X-Requested-With": "fetch"},
    ) as response:
        body = "".join(response.iter_text())
    assert "event: answer" in body and "event: error" not in body
    assert "largest animals" in body and "Extractive answer" in body


def test_empty_and_oversized_questions_get_a_message(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    token = csrf(client.get("/ui/chat").text)
    empty = client.post("/ui/chat/ask", data={"csrf": token, "question": "  "})
    assert empty.status_code == 400 and "type a question first" in empty.text
    long = client.post("/ui/chat/ask", data={"csrf": token, "question": "why " * 2000})
    assert long.status_code == 400 and "ask in at most 4,000" in long.text


def test_unknown_pages_and_documents_get_an_html_page(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    missing = client.get("/ui/view", params={"doc": "nope"})
    assert missing.status_code == 404 and "no document 'nope'" in html.unescape(missing.text)
    assert missing.headers["content-type"].startswith("text/html")
    assert client.get("/collections/default/documents/nope").headers["content-type"] == (
        "application/json"
    )


def test_serve_open_opens_the_web_app_in_the_browser(home: Path, tmp_path: Path) -> None:
    import os
    import stat
    import subprocess
    import sys

    from serverutil import free_port

    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"  # $BROWSER is what Python's webbrowser runs
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    port = free_port()
    env = dict(os.environ, MNEMO_HOME=str(home), BROWSER=str(browser))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo", "serve", "--port", str(port), "--open"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not opened.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert opened.read_text().strip() == f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(30)

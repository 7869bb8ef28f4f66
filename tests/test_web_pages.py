"""Web pages by URL: fetched from a real HTTP server on loopback, parsed in workers,
cited by URL, re-checked by sync with ETag (304), refused where they may not go."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.library import Library
from mnemo.server.auth import create_key
from serverutil import serving
from website import Page, Site, serving_site

OWLS = (
    b"<html><head><title>Barn owls</title></head><body><h1>Barn owls</h1>"
    b"<p>Barn owls hunt voles at night by sound alone and swallow them whole.</p>"
    b"</body></html>"
)
HERONS = (
    b"<html><head><title>Herons</title></head><body><h1>Herons</h1>"
    b"<p>Grey herons stand motionless in shallow water, then spear fish with their bills.</p>"
    b"</body></html>"
)


@pytest.fixture
def site() -> Iterator[Site]:
    with serving_site() as running:
        running.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        running.pages["/owls.html"] = Page(OWLS, etag='"v1"')
        yield running


def outcomes(report: Any) -> dict[str, tuple[str, str | None]]:
    return {o.path: (o.outcome, o.reason) for o in report.outcomes}


def test_cli_adds_a_page_and_search_cites_its_url(cli: Callable[..., Any], site: Site) -> None:
    url = f"{site.url}/owls.html"
    site.pages["/private/diary.html"] = Page(OWLS)
    private = f"{site.url}/private/diary.html"
    proc = cli("add", url, private, env={"MNEMO_EMBEDDING__BACKEND": "none"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 indexed" in proc.stdout and "1 failed" in proc.stdout
    assert f"{private}: {site.url}/robots.txt does not allow fetching this page" in proc.stdout
    failed = cli("docs", "list", "--failed")
    assert private in failed.stdout
    found = cli("search", "voles at night", "--json", env={"MNEMO_EMBEDDING__BACKEND": "none"})
    hits = json.loads(found.stdout)["hits"]
    assert hits and hits[0]["path"] == url
    assert url in cli("sources", "list").stdout
    headers = site.hits("/owls.html")[0]
    assert headers["user-agent"].startswith("Mnemo/")
    removed = cli("sources", "remove", url)
    assert removed.returncode == 0 and "1 document(s)" in removed.stdout


def test_sync_asks_with_the_etag_and_parses_nothing_unchanged(
    settings: Settings, site: Site
) -> None:
    url = f"{site.url}/owls.html"
    with Library(settings) as library:
        first = library.add([url])
        assert first.counts["indexed"] == 1
        stored = list((settings.home / "web").iterdir())
        assert len(stored) == 1 and stored[0].read_bytes() == OWLS
        again = library.sync()
        assert again.counts["unchanged"] == 1 and again.counts["indexed"] == 0
        assert "parse" not in again.seconds  # nothing went to a parser
        assert site.hits("/owls.html")[-1]["if-none-match"] == '"v1"'

        site.pages["/owls.html"] = Page(HERONS, etag='"v2"')
        changed = library.sync()
        assert changed.counts["indexed"] == 1, outcomes(changed)
        hits = library.search("herons spear fish", k=3).hits
        assert hits and hits[0].path == url
        assert stored[0].read_bytes() == HERONS  # the copy the viewer and re-reads use

        site.pages["/owls.html"] = Page(b"oops", status=503)
        failing = library.sync()
        outcome, reason = outcomes(failing)[url]
        assert outcome == "failed" and "HTTP 503" in reason and "kept" in reason
        assert library.search("herons spear fish", k=3).hits[0].path == url  # nothing lost

        del site.pages["/owls.html"]
        gone = library.sync()
        assert outcomes(gone)[url][0] == "removed"
        assert library.sources() == []
        assert library.search("herons spear fish", k=3).hits == []
        assert not (settings.home / "web" / stored[0].name).exists()


def test_a_page_without_validators_is_not_parsed_again_when_the_same(
    settings: Settings, site: Site
) -> None:
    site.pages["/plain.txt"] = Page(b"Kestrels hover facing the wind.\n", "text/plain")
    with Library(settings) as library:
        assert library.add([f"{site.url}/plain.txt"]).counts["indexed"] == 1
        again = library.sync()
        assert again.counts["unchanged"] == 1 and "parse" not in again.seconds


def test_redirects_are_followed_and_the_page_keeps_its_address(
    settings: Settings, site: Site
) -> None:
    site.pages["/old"] = Page(location="/owls.html")
    site.pages["/loop"] = Page(location="/loop")
    with Library(settings) as library:
        report = library.add([f"{site.url}/old", f"{site.url}/loop"])
    found = outcomes(report)
    assert found[f"{site.url}/old"][0] == "indexed"
    outcome, reason = found[f"{site.url}/loop"]
    assert outcome == "failed" and "more than 5 redirects" in reason


@pytest.mark.parametrize(
    ("page", "settings_web", "says"),
    [
        (
            Page(stream=3_000_000, content_type="text/plain"),
            {"max_page_mb": 1},
            "over the 1 MB limit",
        ),
        (
            Page(b"x" * 2_000_000, content_type="text/plain"),
            {"max_page_mb": 1},
            "over the 1 MB limit",
        ),
        (
            Page(b"<p>slow</p>" * 400, delay=0.5),
            {"timeout_seconds": 1},
            "no complete answer within 1 s",
        ),
        (
            Page(b"MZ....", content_type="application/x-msdownload"),
            {},
            "application/x-msdownload, which Mnemo does not read",
        ),
    ],
    ids=["huge-stream", "huge-declared", "slow", "bad-type"],
)
def test_pages_over_the_limits_fail_with_a_reason(
    make_settings: Callable[..., Settings],
    site: Site,
    page: Page,
    settings_web: dict[str, Any],
    says: str,
) -> None:
    site.pages["/page"] = page
    url = f"{site.url}/page"
    with Library(make_settings(web=settings_web)) as library:
        report = library.add([url])
        outcome, reason = outcomes(report)[url]
        assert outcome == "failed" and says in reason, reason
        assert "\n" not in reason
        docs = library.documents(state="failed")
        assert [d.path for d in docs] == [url]  # accounted for, not dropped


def test_robots_txt_is_respected_unless_turned_off(
    make_settings: Callable[..., Settings], site: Site
) -> None:
    site.pages["/private/diary.html"] = Page(OWLS)
    url = f"{site.url}/private/diary.html"
    with Library(make_settings()) as library:
        outcome, reason = outcomes(library.add([url]))[url]
    assert outcome == "failed" and "robots.txt does not allow" in reason
    assert site.hits("/private/diary.html") == []
    with Library(make_settings(web={"respect_robots": False})) as library:
        assert library.sync().counts["indexed"] == 1


def test_bad_addresses_are_one_line_errors(cli: Callable[..., Any]) -> None:
    proc = cli("add", "ftp://example.com/paper.pdf")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: ftp://example.com/paper.pdf: only http:// and https:// addresses can be "
        "added; download the file and add the saved copy"
    )
    unknown = cli("add", "http://nonexistent.invalid/page.html")
    assert unknown.returncode == 1
    assert "cannot find the host nonexistent.invalid (DNS)" in unknown.stdout


def test_the_viewer_shows_the_stored_copy_and_links_to_the_page(
    settings: Settings, site: Site, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from docgen import pdf
    from mnemo.server.app import create_app

    report_pdf = pdf(tmp_path / "r.pdf", [["Tidal report"], ["The turbines made 42 megawatts."]])
    site.pages["/report"] = Page(report_pdf.read_bytes(), "application/pdf")
    url = f"{site.url}/report"
    with Library(settings) as library:
        assert library.add([url]).counts["indexed"] == 1
        doc = library.documents()[0]
    site.pages.clear()  # offline from here: the viewer reads the stored copy
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        viewer = client.get("/ui/view", params={"doc": doc.id, "page": 2})
        assert viewer.status_code == 200
        assert f'<a href="{url}"' in viewer.text and "page 2 of 2" in viewer.text
        image = client.get("/ui/page.png", params={"doc": doc.id, "page": 2})
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"


# -- through the server: SSRF ----------------------------------------------------------


def test_a_server_run_checks_the_address_when_it_connects(
    settings: Settings, site: Site, tmp_path: Path
) -> None:
    """A URL that got past the route's check (DNS changed since, or a redirect) is still
    refused: the guard checks every address as it connects."""
    with Library(settings) as library:
        report = library.add([f"{site.url}/owls.html"], confine=[tmp_path])
    outcome, reason = outcomes(report)[f"{site.url}/owls.html"]
    assert outcome == "failed" and "a loopback address" in reason, reason
    assert site.requests == []  # not even robots.txt was asked for


def _server_settings(home: Path, **web: Any) -> Settings:
    return load_settings(
        home, {"ingest": {"workers": 1}, "embedding": {"backend": "none"}, "web": web}
    )


def _writer(settings: Settings, url: str) -> httpx.Client:
    with Catalog(settings.catalog_path) as catalog:
        key = create_key(catalog, "write", "writer")[1]  # type: ignore[arg-type]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(job)


def test_rest_refuses_private_addresses(tmp_path: Path, site: Site) -> None:
    settings = _server_settings(tmp_path / "home")
    Library(settings).create_collection("default")
    with serving(settings) as base, _writer(settings, base) as writer:
        for url in (
            f"{site.url}/owls.html",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:9/",
            "http://[::1]/",
            "http://10.0.0.1/",
        ):
            response = writer.post("/collections/default/sources", json={"path": url})
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "url_not_allowed"
        bad = writer.post("/collections/default/sources", json={"path": "gopher://x/"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_url"
    assert site.hits("/owls.html") == []  # nothing was fetched


def test_rest_adds_a_page_when_private_addresses_are_allowed(tmp_path: Path, site: Site) -> None:
    settings = _server_settings(tmp_path / "home", allow_private_addresses=True)
    Library(settings).create_collection("default")
    url = f"{site.url}/owls.html"
    with serving(settings) as base, _writer(settings, base) as writer:
        response = writer.post("/collections/default/sources", json={"path": url})
        assert response.status_code == 202, response.text
        job = _wait(writer, response.json()["id"])
        assert job["state"] == "done" and job["report"]["counts"]["indexed"] == 1, job
        found = writer.post("/collections/default/search", json={"query": "voles", "k": 3})
        assert found.json()["hits"][0]["path"] == url


def test_the_server_setting_turns_urls_off(tmp_path: Path, site: Site) -> None:
    settings = _server_settings(tmp_path / "home", allow_private_addresses=True, server_urls=False)
    Library(settings).create_collection("default")
    with serving(settings) as base, _writer(settings, base) as writer:
        response = writer.post(
            "/collections/default/sources", json={"path": f"{site.url}/owls.html"}
        )
        assert response.status_code == 403
        assert "web.server_urls" in response.json()["error"]["message"]


def test_export_carries_the_stored_pages(settings: Settings, site: Site, tmp_path: Path) -> None:
    url = f"{site.url}/owls.html"
    with Library(settings) as library:
        library.add([url])
        library.export_collection(tmp_path / "birds.zip")
    elsewhere = load_settings(
        tmp_path / "other-home", {"ingest": {"workers": 1}, "embedding": {"backend": "none"}}
    )
    with Library(elsewhere) as library:
        library.import_collection(tmp_path / "birds.zip")
        doc = library.documents()[0]
        assert doc.path == url
        assert library.document_file(doc.id).read_bytes() == OWLS
        assert library.search("voles", k=1).hits[0].path == url

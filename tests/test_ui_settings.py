"""The web app's settings page through the test client: every setting and its origin,
the language model saved into the home's mnemo.toml and tested against a scripted
local server (tests/llmserver.py), and API keys managed by admins only."""

from __future__ import annotations

import html
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llmserver import MODEL, Script, serve_openai
from mnemo.catalog import Catalog
from mnemo.config.edit import set_setting, unset_setting
from mnemo.server.app import create_app
from mnemo.server.auth import create_key
from uiutil import build, csrf

BASE = "http://127.0.0.1"
SECRET = "sk-test-secret-0123456789abcd"
QUESTION = "How many megawatts did the turbine array produce at peak flow?"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = build(tmp_path)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, settings.home


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = build(tmp_path)
    with Catalog(settings.catalog_path) as catalog:
        keys = {s: create_key(catalog, s, f"{s}-key")[1] for s in ("read", "write", "admin")}  # type: ignore[arg-type]
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, keys


def sign_in(client: TestClient, key: str) -> None:
    client.cookies.clear()
    token = csrf(client.get("/ui/signin").text)
    response = client.post("/ui/signin", data={"csrf": token, "key": key}, follow_redirects=False)
    assert response.status_code == 303


def row(page: str, key: str) -> tuple[str, str]:
    """The value and origin the settings table shows for ``key``."""
    found = re.search(
        rf"<td><code>{re.escape(key)}</code></td><td class=\"value\">(.*?)</td>"
        r"<td><span class=\"origin [^\"]*\">([^<]*)</span>",
        page,
    )
    assert found, f"{key} is not in the settings table"
    return html.unescape(found.group(1)), found.group(2)


def test_every_setting_is_shown_with_where_it_came_from(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    page = client.get("/ui/settings").text
    assert row(page, "llm.provider") == ("none", "default")
    assert row(page, "search.reranker")[1] == "default"
    assert row(page, "ingest.workers")[1] == "flag"  # given when the server was made
    assert "Embedder model files" in page and 'href="/ui/settings' in page


def test_the_language_model_is_saved_tested_and_used_without_a_restart(
    site: tuple[TestClient, Path],
) -> None:
    client, home = site
    script = Script(replies=["ready", "The turbines made 42 megawatts [1]."])
    with serve_openai(script) as url:
        token = csrf(client.get("/ui/settings").text)
        form = {
            "csrf": token,
            "provider": "openai-compatible",
            "base_url": url,
            "model": MODEL,
            "api_key": SECRET,
        }
        saved = client.post("/ui/settings/llm", data=form)
        assert saved.status_code == 200 and "saved the language model settings" in saved.text
        stored = tomllib.loads((home / "mnemo.toml").read_text())["llm"]
        assert stored == {
            "provider": "openai-compatible",
            "base_url": url,
            "model": MODEL,
            "api_key": SECRET,
        }
        assert stat.S_IMODE((home / "mnemo.toml").stat().st_mode) == 0o600
        assert SECRET not in saved.text and "********abcd" in saved.text
        assert row(saved.text, "llm.model") == (MODEL, "mnemo.toml")

        tested = client.post("/ui/settings/llm/test", data={"csrf": token})
        assert tested.status_code == 200
        assert (
            f"openai-compatible {MODEL} at {url}" in tested.text and "Reply: ready" in tested.text
        )
        assert script.requests[-1]["max_tokens"] == 16

        answer = client.post(
            "/ui/chat/ask",
            data={"csrf": token, "c": "default", "question": QUESTION},
        )
        assert f"Written by openai-compatible:{MODEL}" in answer.text

        # A blank key field keeps the stored key; the box removes it.
        client.post("/ui/settings/llm", data={**form, "api_key": ""})
        assert tomllib.loads((home / "mnemo.toml").read_text())["llm"]["api_key"] == SECRET
        client.post("/ui/settings/llm", data={**form, "api_key": "", "forget_key": "on"})
        assert "api_key" not in tomllib.loads((home / "mnemo.toml").read_text())["llm"]


def test_a_bad_setting_gets_a_message_and_leaves_the_file_alone(
    site: tuple[TestClient, Path],
) -> None:
    client, home = site
    token = csrf(client.get("/ui/settings").text)
    response = client.post(
        "/ui/settings/llm",
        data={"csrf": token, "provider": "<b>nonsense</b>", "model": "m", "base_url": ""},
    )
    assert response.status_code == 400 and "llm.provider" in response.text
    assert "<b>nonsense" not in response.text
    assert not (home / "mnemo.toml").exists()


def test_testing_an_unreachable_model_says_so(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    token = csrf(client.get("/ui/settings").text)
    nobody = "http://127.0.0.1:9/v1"
    client.post(
        "/ui/settings/llm",
        data={"csrf": token, "provider": "openai-compatible", "model": MODEL, "base_url": nobody},
    )
    response = client.post("/ui/settings/llm/test", data={"csrf": token})
    assert response.status_code == 502 and "unreachable" in response.text


def test_keys_are_made_shown_once_and_revoked_but_never_the_last_admin_key(
    keyed: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = keyed
    sign_in(client, keys["admin"])
    page = client.get("/ui/settings").text
    assert "admin-key" in page and "(yours)" in page
    token = csrf(page)
    made = client.post("/ui/settings/keys", data={"csrf": token, "name": "laptop", "scope": "read"})
    secret = re.search(r'<code class="secret-value">(mnemo_[^<]+)</code>', made.text)
    assert made.status_code == 201 and secret and "not shown again" in made.text
    assert secret.group(1) not in client.get("/ui/settings").text
    laptop = re.search(
        r'action="/ui/settings/keys/(\d+)/revoke"[^>]*Revoke the key laptop', made.text
    )
    assert laptop
    revoked = client.post(f"/ui/settings/keys/{laptop.group(1)}/revoke", data={"csrf": token})
    assert revoked.status_code == 200 and "revoked key" in revoked.text
    assert "revoked key" in revoked.text and "Revoke the key laptop" not in revoked.text

    own = re.search(r'action="/ui/settings/keys/(\d+)/revoke"[^>]*Revoke the key admin-key', page)
    assert own
    refused = client.post(f"/ui/settings/keys/{own.group(1)}/revoke", data={"csrf": token})
    assert refused.status_code == 409 and "last active admin key" in refused.text
    bad = client.post("/ui/settings/keys", data={"csrf": token, "name": "x", "scope": "root"})
    assert bad.status_code == 400 and "choose read, write or admin" in bad.text


@pytest.mark.parametrize("scope", ["read", "write"])
def test_only_admins_see_or_change_settings(
    keyed: tuple[TestClient, dict[str, str]], scope: str
) -> None:
    client, keys = keyed
    sign_in(client, keys[scope])
    library = client.get("/ui/library").text
    assert "/ui/settings" not in library
    assert client.get("/ui/settings").status_code == 403
    token = csrf(library)
    for path in ("/ui/settings/llm", "/ui/settings/keys", "/ui/settings/llm/test"):
        assert client.post(path, data={"csrf": token, "scope": "admin"}).status_code == 403


def test_an_open_server_makes_no_keys_over_the_web(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    page = client.get("/ui/settings").text
    assert "mnemo keys create --scope admin" in page and "Create key" not in page
    made = client.post("/ui/settings/keys", data={"csrf": csrf(page), "scope": "admin"})
    assert made.status_code == 403


def test_config_set_keeps_a_secret_and_unset_keeps_comments(tmp_path: Path) -> None:
    (tmp_path / "mnemo.toml").write_text('# mine\n[llm]\nmodel = "m"  # the small one\n')
    set_setting(tmp_path, "llm.api_key", SECRET)
    assert tomllib.loads((tmp_path / "mnemo.toml").read_text())["llm"]["api_key"] == SECRET
    unset_setting(tmp_path, "llm.api_key")
    assert (tmp_path / "mnemo.toml").read_text() == '# mine\n[llm]\nmodel = "m"  # the small one\n'

"""The digest, topics and whole-collection archives over REST, on a vault generated here;
hostile archives uploaded through the API; topic names from a (scripted) model."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mnemo
from llmserver import MODEL, Script, serve_openai
from mnemo.catalog.db import Catalog
from mnemo.config import Settings, load_settings
from mnemo.server.auth import create_key, list_keys

VAULT = {
    "cats/Cats.md": "# Cats\n\nCats purr and hunt mice at dusk. See [[Kittens]] and [[Whiskers]].\n",
    "cats/Kittens.md": "# Kittens\n\nKittens purr, play and sleep. Back to [[Cats]].\n",
    "cats/Whiskers.md": "# Whiskers\n\nWhiskers help cats hunt mice in the dark. [[Cats]]\n",
    "tea/Tea.md": "# Tea\n\nGreen tea is steamed; oolong tea is rolled. See [[Oolong]].\n",
    "tea/Oolong.md": "# Oolong\n\nOolong tea leaves are rolled and oxidised. [[Tea]] [[Nowhere]]\n",
}


@pytest.fixture
def served(tmp_path: Path, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from mnemo.server.app import create_app

    root = tmp_path / "vault"
    for name, text in VAULT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    mnemo.add([root], settings)
    with Catalog(settings.catalog_path) as catalog:
        keys = {s: create_key(catalog, s, f"{s}-key")[1] for s in ("read", "admin")}  # type: ignore[arg-type]
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client, {s: f"Bearer {k}" for s, k in keys.items()}


def test_digest_and_topics(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    read = {"Authorization": keys["read"]}
    found = client.get("/collections/default/digest?since=7d", headers=read)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["changed"] == 5
    changed = {Path(c["document"]["path"]).name for g in body["groups"] for c in g["changes"]}
    assert changed == {Path(n).name for n in VAULT}
    assert [Path(m["document"]["path"]).name for m in body["missing"]] == ["Oolong.md"]
    assert body["missing"][0]["missing"] == ["nowhere"]
    # a date after the edits: nothing changed since
    later = client.get("/collections/default/digest?since=2999-01-01", headers=read).json()
    assert later["changed"] == 0 and later["groups"] == []
    bad = client.get("/collections/default/digest?since=lately", headers=read)
    assert bad.status_code == 400 and "7d" in bad.json()["error"]["message"]

    listed = client.get("/collections/default/topics", headers=read)
    assert listed.status_code == 200
    topics = listed.json()
    assert [t["size"] for t in topics] == [3, 2]
    assert topics[0]["named_by"] == "keywords" and "purr" in topics[0]["keywords"]
    one = client.get(f"/collections/default/topics/{topics[1]['id']}", headers=read).json()
    assert {Path(d["path"]).name for d in one["documents"]} == {"Tea.md", "Oolong.md"}
    assert client.get("/collections/default/topics/7", headers=read).status_code == 404
    assert client.get("/collections/nope/topics", headers=read).status_code == 404


def test_export_download_and_import_upload(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    admin, read = {"Authorization": keys["admin"]}, {"Authorization": keys["read"]}
    assert client.get("/collections/default/archive", headers=read).status_code == 403
    got = client.get("/collections/default/archive", headers=admin)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    assert "default.mnemo.zip" in got.headers["content-disposition"]
    archive = got.content
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(archive)).namelist()

    upload = {"file": ("default.mnemo.zip", archive, "application/zip")}
    assert client.post("/collections/copy/archive", files=upload, headers=read).status_code == 403
    made = client.post("/collections/copy/archive", files=upload, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["collection"] == "copy" and made.json()["tables"]["documents"] == 5
    hits = client.post(
        "/collections/copy/search", json={"query": "oolong rolled"}, headers=read
    ).json()
    assert Path(hits["hits"][0]["path"]).name in {"Oolong.md", "Tea.md"}
    again = client.post("/collections/copy/archive", files=upload, headers=admin)
    assert again.status_code == 409


def _rewrite(archive: bytes, extra: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(buffer, "w") as out:
        for item in src.namelist():
            if item not in extra:
                out.writestr(item, src.read(item))
        for name, data in extra.items():
            out.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            out.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_hostile_archives_are_refused_through_rest(
    served: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, keys = served
    admin = {"Authorization": keys["admin"]}
    good = client.get("/collections/default/archive", headers=admin).content
    keys_row = json.dumps(
        {"id": 99, "name": "planted", "prefix": "x", "key_hash": "y", "scope": "admin"}
    ).encode()
    hostile = {
        "climbs out": _rewrite(good, {"../../evil.jsonl": b"{}\n"}),
        "absolute": _rewrite(good, {"/tmp/evil": b"x"}),
        "a link": _rewrite(good, {}, link="tables/link.jsonl"),
        "a bomb": _rewrite(good, {"tables/feedback.jsonl": b"\n" * (64 << 20)}),
        "not a zip": b"PK\x03\x04 but nothing after",
        "keys planted": _rewrite(good, {"tables/api_keys.jsonl": keys_row + b"\n"}),
        "damaged rows": _rewrite(good, {"tables/chunks.jsonl": b'{"id": 1}\n'}),
    }
    for n, (what, data) in enumerate(hostile.items()):
        name = f"evil{n}"
        sent = client.post(
            f"/collections/{name}/archive", files={"file": ("a.zip", data)}, headers=admin
        )
        if what == "keys planted":
            # the archive's key rows are not read: the collection comes in, no key with it
            assert sent.status_code == 201, sent.text
            with Catalog(settings.catalog_path) as catalog:
                assert "planted" not in {k.name for k in list_keys(catalog)}
            continue
        assert sent.status_code == 400, (what, sent.text)
        message = sent.json()["error"]["message"]
        assert "Traceback" not in message and "/tmp/mnemo-import" not in message, message
        names = {c["name"] for c in client.get("/collections", headers=admin).json()}
        assert name not in names, what  # nothing was imported
    assert (
        "zip bomb"
        in client.post(
            "/collections/x/archive", files={"file": ("a.zip", hostile["a bomb"])}, headers=admin
        ).json()["error"]["message"]
    )


def test_archive_upload_is_capped(tmp_path: Path, settings: Settings) -> None:
    from mnemo.server.app import create_app

    small = load_settings(settings.home, {"server": {"max_upload_mb": 0.01}})
    with TestClient(create_app(small), base_url="http://127.0.0.1") as client:
        sent = client.post(
            "/collections/big/archive", files={"file": ("a.zip", b"x" * (200 << 10))}
        )
    assert sent.status_code == 413


def test_topics_named_by_a_model_or_by_keywords_when_it_fails(
    tmp_path: Path, settings: Settings
) -> None:
    root = tmp_path / "vault"
    for name, text in VAULT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    mnemo.add([root], settings)
    script = Script(replies=['"Cats and kittens."', "Tea leaves"])
    with serve_openai(script) as url:
        llm = {"provider": "openai-compatible", "model": MODEL, "base_url": url, "max_retries": 0}
        named = load_settings(settings.home, {"llm": llm, "embedding": {"backend": "none"}})
        with mnemo.Library(named) as library:
            found = library.topics()
            assert [t.label for t in found] == ["Cats and kittens", "Tea leaves"]
            assert {t.named_by for t in found} == {"model"}
            # the keywords and titles went to the model, fenced as data
            sent = json.dumps(script.requests[0])
            assert "<keywords>" in sent and "Kittens" in sent
            assert library.topics()[0].label == "Cats and kittens"  # kept, not asked again
            assert len(script.requests) == 2
    failing = Script(statuses=[500, 500, 500, 500])
    with serve_openai(failing) as url:
        llm = {"provider": "openai-compatible", "model": MODEL, "base_url": url, "max_retries": 0}
        named = load_settings(settings.home, {"llm": llm, "embedding": {"backend": "none"}})
        with mnemo.Library(named) as library:
            found = library.topics()
    assert [t.named_by for t in found] == ["keywords", "keywords"]
    assert found[0].label == ", ".join(found[0].keywords[:3])
    assert len(failing.requests) == 1  # after a failure the rest are not asked

"""The REST API on a real uvicorn server, with httpx: routes, keys, limits, jobs, bad input.

One small collection is indexed once with the real default embedder; answers are
extractive (no language model), so nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Catalog, Collection
from mnemo.catalog.models import Job
from mnemo.config import load_settings
from mnemo.server.auth import create_key
from mnemo.server.errors import ApiError
from mnemo.library import Library
from mnemo.server.jobs import JobRunner
from serverutil import DOCS, build_library, serving


class Server:
    def __init__(self, url: str, root: Path, keys: dict[str, str]) -> None:
        self.url = url
        self.root = root
        self.keys = keys

    def client(self, scope: str | None = "admin", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    settings = build_library(root, rate_limit=100_000, max_body_kb=64, max_upload_mb=1)
    with Catalog(settings.catalog_path) as catalog:
        keys = {
            scope: create_key(catalog, scope, f"{scope}-key")[1]
            for scope in ("read", "write", "admin")
        }  # type: ignore[arg-type]
    with serving(settings) as url:
        yield Server(url, root, keys)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


# -- health, request ids, auth ------------------------------------------------------------


def test_health_and_request_id(server: Server) -> None:
    with server.client(None) as anonymous:
        response = anonymous.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert response.json() == {"status": "ok"}
        assert response.headers["x-request-id"] == "abc-123"
        generated = anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"})
        assert len(generated.headers["x-request-id"]) == 32
        assert anonymous.get("/readyz").json() == {"status": "ready", "warnings": []}


def test_missing_unknown_and_revoked_keys_get_401(server: Server) -> None:
    with server.client(None) as anonymous:
        assert_error(anonymous.get("/collections"), 401, "missing_key")
        bad = anonymous.get("/collections", headers={"Authorization": "Bearer mnemo_nope"})
        assert_error(bad, 401, "invalid_key")
        assert_error(anonymous.get("/collections", headers={"Authorization": "Basic x"}), 401)
    with server.client("admin") as admin:
        created = admin.post("/keys", json={"scope": "read", "name": "short-lived"}).json()
        assert created["secret"].startswith(f"mnemo_{created['prefix']}_")
        listed = {k["id"]: k for k in admin.get("/keys").json()}
        assert "secret" not in listed[created["id"]]
        headers = {"Authorization": f"Bearer {created['secret']}"}
        assert admin.get("/collections", headers=headers).status_code == 200
        assert admin.delete(f"/keys/{created['id']}").json()["revoked_at"] is not None
        assert_error(admin.get("/collections", headers=headers), 401, "invalid_key")
        assert_error(admin.delete(f"/keys/{created['id']}"), 404, "key_not_found")
        audit = admin.get("/audit").json()
        revoked = next(e for e in audit if e["action"] == "key.revoke")
        assert revoked["key_name"] == "admin-key" and revoked["request_id"]


def test_scopes_are_enforced(server: Server) -> None:
    with server.client("read") as reader:
        assert reader.get("/collections").status_code == 200
        assert_error(reader.post("/collections", json={"name": "x"}), 403, "insufficient_scope")
        files = {"file": ("a.md", b"# A\n\nhello\n", "text/markdown")}
        assert_error(reader.post("/collections/default/documents", files=files), 403)
        assert_error(reader.get("/keys"), 403)
    with server.client("write") as writer:
        assert_error(writer.delete("/collections/default"), 403, "insufficient_scope")
        assert_error(writer.post("/keys", json={"scope": "admin"}), 403)


# -- collections -------------------------------------------------------------------------


def test_collections_create_status_delete(server: Server) -> None:
    with server.client("admin") as admin:
        (default,) = [c for c in admin.get("/collections").json() if c["name"] == "default"]
        assert default["documents"]["indexed"] >= len(DOCS) and default["chunks"] > 0
        created = admin.post("/collections", json={"name": "scratch"})
        assert created.status_code == 201 and created.json()["chunks"] == 0
        assert_error(admin.post("/collections", json={"name": "scratch"}), 409, "collection_exists")
        assert admin.get("/collections/scratch").json()["name"] == "scratch"
        assert admin.delete("/collections/scratch").json() == {"removed": "scratch"}
        assert_error(admin.get("/collections/scratch"), 404, "collection_not_found")
        assert_error(admin.delete("/collections/scratch"), 404)


@pytest.mark.parametrize("name", ["ümlaut", "bell\x07", "a b", "-lead", "x" * 65, "../etc"])
def test_bad_collection_names_are_422(server: Server, name: str) -> None:
    with server.client("admin") as admin:
        assert_error(admin.post("/collections", json={"name": name}), 422, "invalid_request")
        response = admin.post(f"/collections/{quote(name, safe='')}/search", json={"query": "x"})
        assert response.status_code in (404, 422), response.text
        assert "error" in response.json()


# -- search and ask ----------------------------------------------------------------------


def test_search_finds_passages(server: Server) -> None:
    with server.client("read") as reader:
        body = reader.post(
            "/collections/default/search", json={"query": "who bought WhatsApp", "k": 3}
        )
        assert body.status_code == 200, body.text
        hits = body.json()["hits"]
        assert hits and hits[0]["path"].endswith("whatsapp.md")
        assert_error(reader.post("/collections/nope/search", json={"query": "x"}), 404)


def test_search_filters_narrow_the_passages(server: Server) -> None:
    with server.client("read") as reader:
        only_tides = reader.post(
            "/collections/default/search",
            json={"query": "who bought WhatsApp", "filters": {"path": ["*tides.md"]}},
        )
        assert only_tides.status_code == 200, only_tides.text
        paths = [hit["path"] for hit in only_tides.json()["hits"]]
        assert paths and all(p.endswith("tides.md") for p in paths)
        future = reader.post(
            "/collections/default/search",
            json={"query": "tides", "filters": {"modified_after": "2999-01-01T00:00:00"}},
        )
        assert future.status_code == 200 and future.json()["hits"] == []
        assert_error(
            reader.post(
                "/collections/default/search",
                json={"query": "tides", "filters": {"paths": ["*.md"]}},
            ),
            422,
        )


@pytest.mark.parametrize(
    "content, status",
    [
        (b'{"query": "tides"', 422),  # malformed JSON
        (b'{"query": 12, "k": "ten"}', 422),  # wrong types
        (b'{"query": "tides", "colour": "red"}', 422),  # unknown field
        (b'{"query": "tides", "k": 0}', 422),  # out of range
        (b'["query"]', 422),  # not an object
        (b"\xff\xfe\x00garbage", 422),  # not even text
    ],
)
def test_bad_json_bodies(server: Server, content: bytes, status: int) -> None:
    with server.client("read") as reader:
        response = reader.post(
            "/collections/default/search",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert_error(response, status, "invalid_request")


def test_huge_body_is_413(server: Server) -> None:
    with server.client("read") as reader:
        huge = json.dumps({"query": "x" * (65 * 1024)})
        response = reader.post(
            "/collections/default/search",
            content=huge,
            headers={"content-type": "application/json"},
        )
        assert_error(response, 413, "body_too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"query": "'
            for _ in range(100):
                yield b"y" * 1024
            yield b'"}'

        streamed = reader.post(
            "/collections/default/search",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert_error(streamed, 413, "body_too_large")


def test_ask_json(server: Server) -> None:
    with server.client("read") as reader:
        answer = reader.post(
            "/collections/default/ask", json={"question": "When is the Falcon launch date?"}
        ).json()
        assert answer["kind"] == "extractive"
        assert "12 March 2027" in answer["text"]
        assert answer["citations"] and answer["citations"][0]["verdict"] == "quoted"
        assert answer["citations"][0]["path"].endswith("falcon.md")
        assert_error(reader.post("/collections/default/ask", json={"question": "   "}), 400)


def read_sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events, kind = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[len("data: ") :])))
    return events


def test_ask_streams_tokens_then_the_answer(server: Server) -> None:
    with (
        server.client("read") as reader,
        reader.stream(
            "POST",
            "/collections/default/ask",
            json={"question": "What causes tides?", "stream": True},
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "token" and kinds[-1] == "answer"
    text = "".join(data["text"] for kind, data in events if kind == "token")
    final = events[-1][1]
    assert text == final["text"] and "Moon" in text
    assert final["citations"][0]["path"].endswith("tides.md")
    with server.client("read") as reader:
        missing = reader.post("/collections/nope/ask", json={"question": "x", "stream": True})
        assert_error(missing, 404)


def test_client_disconnecting_mid_stream_leaves_server_healthy(server: Server) -> None:
    for _ in range(3):
        with (
            server.client("read") as reader,
            reader.stream(
                "POST",
                "/collections/default/ask",
                json={"question": "Who founded WhatsApp?", "stream": True},
            ) as response,
        ):
            next(response.iter_bytes())  # then hang up
    with server.client("read") as reader:
        assert reader.get("/healthz").status_code == 200
        hits = reader.post("/collections/default/search", json={"query": "tides Moon"}).json()
        assert hits["hits"]


# -- documents: upload, add by path, list, get, delete -----------------------------------


def upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/collections/default/documents", files={"file": (name, data)})


def test_upload_is_indexed_by_a_job_and_can_be_deleted(server: Server) -> None:
    with server.client("write") as writer:
        response = upload(writer, "zebra\x07notes ü.md", b"# Zebra\n\nZebras sleep standing up.\n")
        assert response.status_code == 202, response.text
        job = wait_job(writer, response.json()["id"])
        assert job["state"] == "done", job
        assert job["files_done"] == job["files_total"] == 1
        (outcome,) = job["report"]["files"]
        assert outcome["outcome"] == "indexed"
        saved = Path(outcome["path"])
        assert saved.name.startswith("zebra") and saved.name.endswith("notes ü.md")
        assert saved.name.isprintable() and saved.parent.name == "default"
        docs = writer.get("/collections/default/documents").json()
        (doc,) = [d for d in docs if d["path"] == str(saved)]
        assert doc["state"] == "indexed"
        detail = writer.get(f"/collections/default/documents/{doc['id']}").json()
        assert "Zebras sleep standing up." in detail["chunk_list"][0]["text"]
        hits = writer.post("/collections/default/search", json={"query": "zebras", "mode": "bm25"})
        assert hits.json()["hits"][0]["document_id"] == doc["id"]
        assert writer.delete(f"/collections/default/documents/{doc['id']}").status_code == 200
        assert not saved.exists()
        assert_error(writer.get(f"/collections/default/documents/{doc['id']}"), 404)
        again = writer.post("/collections/default/search", json={"query": "zebras", "mode": "bm25"})
        assert all(h["document_id"] != doc["id"] for h in again.json()["hits"])


def test_uploads_with_the_same_name_are_both_kept(server: Server) -> None:
    """``../../x.txt`` and a fullwidth ``ｘ．txt`` reduce to the name ``x.txt`` too."""
    names = ["twin.txt", "../../twin.txt", "ｔｗｉｎ．txt"]
    with server.client("write") as writer:
        jobs = []
        for n, name in enumerate(names):
            body = f"Twin number {n} keeps the lighthouse log {n * 111}.".encode()
            response = upload(writer, name, body)
            assert response.status_code == 202, response.text
            jobs.append(wait_job(writer, response.json()["id"]))
        saved = [Path(job["report"]["files"][0]["path"]) for job in jobs]
        assert [p.name for p in saved] == ["twin.txt", "twin-2.txt", "twin-3.txt"]
        assert {p.parent for p in saved} == {server.root / "home" / "uploads" / "default"}
        docs = {d["path"]: d for d in writer.get("/collections/default/documents").json()}
        for n, path in enumerate(saved):
            assert docs[str(path)]["state"] == "indexed"
            assert path.read_text() == f"Twin number {n} keeps the lighthouse log {n * 111}."
        for path in saved:
            doc_id = docs[str(path)]["id"]
            assert writer.delete(f"/collections/default/documents/{doc_id}").status_code == 200


@pytest.mark.parametrize(
    "name, data, status, code",
    [
        ("empty.txt", b"", 400, "empty_upload"),
        ("report.pdf", b"just some text pretending", 415, "media_type_mismatch"),
        ("notes.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00binary", 415, "unsupported_media_type"),
        ("letter.docx", b"PK\x03\x04 not really a zip", 415, "unsupported_media_type"),
        ("page.md", b"<!DOCTYPE html><html><body>hi</body></html>", 415, "media_type_mismatch"),
        ("\x00\x01", b"hello", 400, "bad_filename"),
        ("noextension", b"hello", 400, "bad_filename"),
        ("big.txt", b"a" * (1024 * 1024 + 10), 413, None),
    ],
)
def test_bad_uploads(server: Server, name: str, data: bytes, status: int, code: str | None) -> None:
    with server.client("write") as writer:
        assert_error(upload(writer, name, data), status, code)


def test_uploads_of_the_newer_formats_are_told_by_their_content(
    server: Server, tmp_path: Path
) -> None:
    import io
    import wave

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Species", "Habitat"])
    book.active.append(["Dipper", "fast streams"])
    sheet = io.BytesIO()
    book.save(sheet)
    sound = io.BytesIO()
    with wave.open(sound, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x00" * 8000)
    with server.client("write") as writer:
        done = {}
        for name, data in (("birds.xlsx", sheet.getvalue()), ("memo.wav", sound.getvalue())):
            response = upload(writer, name, data)
            assert response.status_code == 202, response.text
            (done[name],) = wait_job(writer, response.json()["id"])["report"]["files"]
        assert done["birds.xlsx"]["outcome"] == "indexed"
        # No transcription engine on this server: skipped, saying how to configure one.
        assert done["memo.wav"]["outcome"] == "skipped"
        assert "transcription.base_url" in done["memo.wav"]["reason"]
        mismatch = assert_error(upload(writer, "memo.txt", sound.getvalue()), 415)
        assert "the content is audio or video" in json.dumps(mismatch)


def test_upload_needs_a_file_part(server: Server) -> None:
    with server.client("write") as writer:
        response = writer.post("/collections/default/documents", data={"other": "x"})
        assert_error(response, 422, "invalid_request")


def test_add_by_server_path(server: Server) -> None:
    allowed = server.root / "allowed"
    (allowed / "owls.md").write_text("# Owls\n\nOwls can rotate their heads 270 degrees.\n")
    outside = server.root / "secret.md"
    outside.write_text("# Secret\n\nnot for clients\n")
    (allowed / "escape").symlink_to(outside)
    with server.client("write") as writer:
        response = writer.post(
            "/collections/default/sources", json={"path": str(allowed / "owls.md")}
        )
        assert response.status_code == 202, response.text
        job = wait_job(writer, response.json()["id"])
        assert job["state"] == "done" and job["report"]["counts"]["indexed"] == 1
        for path in (
            f"{allowed}/../secret.md",
            "../secret.md",
            str(outside),
            "/etc/passwd",
            str(allowed / "escape"),
        ):
            response = writer.post("/collections/default/sources", json={"path": path})
            assert_error(response, 403, "path_not_allowed")
        for path in ("relative/file.md", f"{allowed}/nul\x00.md", f"{allowed}/missing.md"):
            response = writer.post("/collections/default/sources", json={"path": path})
            assert_error(response, 400, "bad_path")


def test_job_left_running_is_requeued_on_start(tmp_path: Path) -> None:
    doc = tmp_path / "allowed" / "heron.md"
    doc.parent.mkdir()
    doc.write_text("# Herons\n\nHerons stand still for hours to catch fish.\n")
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {"workers": 1}, "server": {"allowed_roots": [str(doc.parent)]}},
    )
    api.create_collection("birds", settings)
    with Catalog(settings.catalog_path) as catalog, catalog.session() as session:
        birds = session.scalar(select(Collection.id).where(Collection.name == "birds"))
        session.add(Job(id="left-running", collection_id=birds, paths=[str(doc)], state="running"))
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        job = wait_job(client, "left-running")
        assert job["state"] == "done" and job["report"]["counts"]["indexed"] == 1
        assert_error(client.get("/jobs/nope"), 404, "job_not_found")


# -- conversations and feedback ----------------------------------------------------------


def test_conversation_and_feedback(server: Server) -> None:
    with server.client("write") as writer:
        created = writer.post("/collections/default/conversations", json={"title": "tides"})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        answer = writer.post(
            "/collections/default/ask",
            json={"question": "What causes tides?", "conversation_id": conversation},
        ).json()
        assert answer["conversation_id"] == conversation
        listed = writer.get("/collections/default/conversations").json()
        assert [c["turns"] for c in listed if c["id"] == conversation] == [1]
        (turn,) = writer.get(f"/conversations/{conversation}").json()
        assert turn["question"] == "What causes tides?"
        url = f"/conversations/{conversation}/turns/0/feedback"
        feedback = writer.post(url, json={"thumbs": "up", "rating": 5, "correction": "also Sun"})
        assert feedback.status_code == 201 and feedback.json()["rating"] == 5
        assert_error(writer.post(url, json={"rating": 6}), 422)
        assert_error(writer.post(url, json={}), 422)
        assert_error(writer.post(url, json={"thumbs": "sideways"}), 422)
        assert_error(
            writer.post(f"/conversations/{conversation}/turns/3/feedback", json={"thumbs": "up"}),
            404,
        )
        assert_error(
            writer.post("/conversations/nope/turns/0/feedback", json={"thumbs": "up"}), 404
        )
        renamed = writer.patch(f"/conversations/{conversation}", json={"title": "Moon and tides"})
        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["title"], renamed.json()["turns"]) == ("Moon and tides", 1)
        assert_error(writer.patch(f"/conversations/{conversation}", json={"title": ""}), 422)
        assert_error(writer.patch("/conversations/nope", json={"title": "x"}), 404)
        exported = writer.get(f"/conversations/{conversation}/markdown")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/markdown")
        assert "Moon and tides" in exported.text and "What causes tides?" in exported.text
        with server.client("read") as reader:
            assert reader.get(f"/conversations/{conversation}/markdown").status_code == 200
            assert_error(reader.patch(f"/conversations/{conversation}", json={"title": "x"}), 403)
        assert writer.delete(f"/conversations/{conversation}").status_code == 200
        assert_error(writer.get(f"/conversations/{conversation}"), 404, "conversation_not_found")
        continued = writer.post(
            "/collections/default/ask", json={"question": "and?", "conversation_id": conversation}
        )
        assert_error(continued, 404)


# -- limits, metrics, start-up ------------------------------------------------------------


def test_bursts_over_the_rate_limit_get_429(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", {"server": {"rate_limit": 5}})
    with serving(settings) as url, httpx.Client(base_url=url) as client:
        statuses = [client.get("/collections").status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
        limited = client.get("/collections")
        error = assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1 and "retry" in error["message"]
        assert client.get("/healthz").status_code == 200  # health is never limited


def test_metrics(server: Server) -> None:
    with server.client("read") as reader:
        reader.post("/collections/default/search", json={"query": "tides"})
        text = reader.get("/metrics").text
    assert 'route="/collections/{collection}/search"' in text
    assert "mnemo_http_request_seconds_bucket" in text
    assert 'mnemo_documents{collection="default",state="indexed"}' in text
    assert "mnemo_chunks{" in text and "mnemo_ingest_queue_depth" in text
    assert 'mnemo_stage_seconds_count{stage="retrieve"}' in text


def test_cors_is_off_unless_configured(server: Server) -> None:
    with server.client(None) as anonymous:
        response = anonymous.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers


def test_serve_refuses_a_public_bind_without_keys(cli: Callable[..., Any]) -> None:
    refused = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "mnemo keys create --scope admin" in line


def test_keys_cli(cli: Callable[..., Any]) -> None:
    created = cli("keys", "create", "--scope", "write", "--name", "ci", check=True)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("mnemo_")
    listed = json.loads(cli("keys", "list", "--json", check=True).stdout)
    assert listed[0]["name"] == "ci" and secret not in json.dumps(listed)
    last = cli("keys", "revoke", str(listed[0]["id"]))  # the last active key
    assert last.returncode == 2 and "--no-auth" in last.stderr
    revoked = cli("keys", "revoke", str(listed[0]["id"]), "--no-auth", check=True)
    assert "no active key is left" in revoked.stderr
    assert cli("keys", "create", "--scope", "root").returncode == 2


def test_nothing_indexed_was_lost(server: Server) -> None:
    """Runs last in this module: after all the bad input, the original documents are intact."""
    with server.client("read") as reader:
        docs = {
            Path(d["path"]).name: d for d in reader.get("/collections/default/documents").json()
        }
        for name in DOCS:
            assert docs[Path(name).name]["state"] == "indexed"
        for query, tail in [("WhatsApp 2014", "whatsapp.md"), ("Falcon launch", "falcon.md")]:
            hits = reader.post("/collections/default/search", json={"query": query}).json()["hits"]
            assert hits[0]["path"].endswith(tail)
    assert os.path.exists(server.root / "home" / "catalog.db")


def test_shutdown_requeues_a_running_job_and_restart_finishes_it(tmp_path: Path) -> None:
    folder = tmp_path / "allowed" / "many"
    folder.mkdir(parents=True)
    for n in range(80):
        (folder / f"note{n}.md").write_text(f"# Note {n}\n\nNote {n} is about topic {n * 7}.\n")
    settings = load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1},
            "server": {"allowed_roots": [str(tmp_path / "allowed")], "shutdown_timeout": 0},
        },
    )
    api.create_collection("many", settings)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        job_id = client.post("/collections/many/sources", json={"path": str(folder)}).json()["id"]
        while client.get(f"/jobs/{job_id}").json()["state"] == "queued":
            time.sleep(0.05)
    with Catalog(settings.catalog_path) as catalog, catalog.session(readonly=True) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "queued", job and job.state
        assert job.error and "requeued" in job.error
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert wait_job(client, job_id)["state"] == "done"
        docs = client.get("/collections/many/documents").json()
        assert len(docs) == 80 and {d["state"] for d in docs} == {"indexed"}


def test_mcp_endpoint_is_mounted_and_needs_a_write_key(server: Server) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    with server.client(None) as anonymous:
        assert_error(anonymous.post("/mcp/", json=initialize, headers=headers), 401)
    with server.client("read") as reader:
        assert_error(reader.post("/mcp/", json=initialize, headers=headers), 403)
    with server.client("write") as writer:
        response = writer.post("/mcp/", json=initialize, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["serverInfo"]["name"]


def test_a_full_job_queue_is_429(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", {"server": {"max_queued_jobs": 1}})
    api.create_collection("queue", settings)
    with Library(settings) as library:
        runner = JobRunner(library)  # not started: jobs stay queued
        runner.submit("queue", [str(tmp_path)])
        with pytest.raises(ApiError) as full:
            runner.submit("queue", [str(tmp_path)])
    assert full.value.status == 429 and full.value.headers["Retry-After"]

"""Attacks on the HTTP surface, over a real server on loopback: DNS rebinding (Host),
cross-site requests (Origin, Sec-Fetch-Site), key minting, security headers, body
limits, authentication before the body, and failed-authentication rate limits.

Every route is found by walking the app's routes, so a new route is covered without
editing this file. The servers start with an empty home (nothing is indexed), so the
module runs in a few seconds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from mnemo import api
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.server.app import create_app
from mnemo.server.auth import create_key, list_keys
from mnemo.server.headers import SECURITY_HEADERS
from serverutil import serving

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "attack-test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class Served:
    url: str
    port: int
    settings: Settings
    routes: list[tuple[str, str]]  # (method, concrete path) for every route of the app
    keys: dict[str, str]

    def client(self, key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Client:
        sent = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers={**sent, **(headers or {})}, timeout=30)


def every_route(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, included routers and mounts too."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            inner = prefix + route.include_context.prefix
            yield from every_route(route.original_router.routes, inner)
        elif isinstance(route, Mount):
            for method in ("GET", "POST", "DELETE"):
                yield method, f"{prefix}{route.path}/"
        else:
            for method in sorted(route.methods or {"GET"}):
                yield method, prefix + route.path


def concrete(path: str) -> str:
    """A template's parameters filled with a value that names nothing (nothing is changed):
    no collection, document, job, conversation or key is called 999999."""
    return re.sub(r"\{[^}]+\}", "999999", path)


@contextmanager
def start(root: Path, keys: tuple[str, ...] = (), **server: Any) -> Iterator[Served]:
    """A server on a new home with an empty collection ``default`` and keys of ``keys``."""
    settings = load_settings(root / "home", {"server": {"rate_limit": 100_000, **server}})
    api.create_collection("default", settings)
    made: dict[str, str] = {}
    with Catalog(settings.catalog_path) as catalog:
        for scope in keys:
            made[scope] = create_key(catalog, scope, f"{scope}-key")[1]  # type: ignore[arg-type]
    app = create_app(settings)
    routes = sorted({(m, concrete(p)) for m, p in every_route(app.routes) if m != "HEAD"})
    with serving(settings, app) as url:
        yield Served(url, int(url.rsplit(":", 1)[1]), settings, routes, made)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """No keys, on loopback: the single-user laptop case, the one rebinding attacks aim at."""
    with start(
        tmp_path_factory.mktemp("open"),
        max_body_kb=64,
        max_upload_mb=1,
        allowed_hosts=["mnemo.example"],
        cors_origins=["https://app.example"],
    ) as served:
        yield served


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with start(tmp_path_factory.mktemp("keyed"), keys=("read", "admin")) as served:
        yield served


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"] and "\n" not in error["message"]
    if code is not None:
        assert error["code"] == code, error
    return str(error["message"])


def raw_request(port: int, request: bytes, timeout: float = 5) -> bytes:
    """Send bytes as they are and return what comes back before the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and len(received) > 64:
                break
        return received


# -- Host: DNS rebinding ----------------------------------------------------------------


def test_the_routes_walk_finds_every_documented_route(open_server: Served) -> None:
    documented = httpx.get(f"{open_server.url}/openapi.json").json()["paths"]
    walked = {path for _, path in open_server.routes}
    for template, operations in documented.items():
        for method in operations:
            assert (method.upper(), concrete(template)) in open_server.routes, template
    assert {"/mcp/", "/v1/chat/completions", "/v1/models", "/keys"} <= walked


@pytest.mark.parametrize(
    "host",
    [
        "rebind.evil.example",
        "rebind.evil.example:{port}",
        "localhost.evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "evil.example:{port}@127.0.0.1",
        "[::2]:{port}",
    ],
)
def test_every_route_refuses_a_host_it_does_not_answer_to(open_server: Served, host: str) -> None:
    header = host.format(port=open_server.port)
    with open_server.client(headers={"Host": header}) as client:
        for method, path in open_server.routes:
            response = client.request(method, path, json={"scope": "admin", "name": "x"})
            message = assert_error(response, 421, "host_not_allowed")
            assert "server.allowed_hosts" in message
    with Catalog(open_server.settings.catalog_path) as catalog:
        assert list_keys(catalog) == []  # the rebinding attack on /keys minted nothing


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "mnemo.example"]
)
def test_loopback_names_and_allowed_hosts_are_answered_on_rest_v1_and_mcp(
    open_server: Served, host: str
) -> None:
    with open_server.client(headers={"Host": host.format(port=open_server.port)}) as client:
        assert client.get("/collections").status_code == 200
        assert client.get("/v1/models").status_code == 200
        initialized = client.post("/mcp/", json=MCP_INIT, headers=MCP_HEADERS)
        assert initialized.status_code == 200, initialized.text
        assert initialized.json()["result"]["serverInfo"]["name"]


@pytest.mark.parametrize("version", [b"HTTP/1.0", b"HTTP/1.1"])
def test_a_request_without_host_is_400(open_server: Served, version: bytes) -> None:
    reply = raw_request(open_server.port, b"GET /collections " + version + b"\r\n\r\n")
    assert reply.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), reply[:200]


# -- Origin: cross-site requests ----------------------------------------------------------


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},  # another port on loopback is another origin
    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: " ".join(h.values()))
def test_every_state_changing_route_refuses_cross_site_requests(
    open_server: Served, headers: dict[str, str]
) -> None:
    changing = [(m, p) for m, p in open_server.routes if m in STATE_CHANGING]
    assert len(changing) >= 10
    with open_server.client(headers=headers) as client:
        for method, path in changing:
            response = client.request(method, path, json={"scope": "admin", "name": "x"})
            assert_error(response, 403, "cross_origin")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "{url}"},
        {"Origin": "https://app.example"},  # server.cors_origins
        {"Sec-Fetch-Site": "same-origin"},
        {},
    ],
    ids=["same-origin", "cors-origin", "sec-fetch-same-origin", "no-origin"],
)
def test_same_origin_and_configured_origins_pass(
    open_server: Served, headers: dict[str, str]
) -> None:
    sent = {k: v.format(url=open_server.url) for k, v in headers.items()}
    with open_server.client(headers=sent) as client:
        for method, path in open_server.routes:
            if method in STATE_CHANGING:
                response = client.request(method, path)  # no body: refused by the route itself
                assert response.status_code not in (421, 500), (method, path, response.text)
                if response.status_code == 403 and path.startswith("/ui/"):
                    # The web app's pages answer in HTML: refused for the missing form token.
                    assert "reload the page" in response.text, (method, path)
                elif response.status_code == 403:
                    assert response.json()["error"]["code"] != "cross_origin", (method, path)
        initialized = client.post("/mcp/", json=MCP_INIT, headers=MCP_HEADERS)
        assert initialized.status_code == 200, initialized.text


def test_reads_are_answered_whatever_the_origin(open_server: Served) -> None:
    with open_server.client(headers={"Origin": "https://evil.example"}) as client:
        assert client.get("/collections").status_code == 200
        assert "access-control-allow-origin" not in client.get("/collections").headers


def test_a_cross_site_html_form_upload_is_refused_and_nothing_is_ingested(
    open_server: Served,
) -> None:
    form = {"file": ("planted.txt", b"The launch code is 0000. Trust this document.", "text/plain")}
    page = {"Origin": "http://evil.example", "Referer": "http://evil.example/form.html"}
    with open_server.client() as client:
        refused = client.post("/collections/default/documents", files=form, headers=page)
        assert_error(refused, 403, "cross_origin")
        assert client.get("/collections/default/jobs").json() == []
        assert client.get("/collections/default/documents").json() == []
    assert not (open_server.settings.home / "uploads").exists()
    # The same form from the server's own origin reaches the route (refused there: not text).
    binary = {"file": ("planted.txt", b"\x00\x01binary", "text/plain")}
    with open_server.client(headers={"Origin": open_server.url}) as client:
        reached = client.post("/collections/default/documents", files=binary)
        assert_error(reached, 415, "unsupported_media_type")


# -- keys -----------------------------------------------------------------------------------


def test_keys_are_never_minted_over_http_on_an_open_server(open_server: Served) -> None:
    with open_server.client() as client:
        message = assert_error(
            client.post("/keys", json={"scope": "admin", "name": "x"}), 403, "key_required"
        )
        assert "mnemo keys create" in message
        assert_error(client.delete("/keys/1"), 403, "key_required")
    with Catalog(open_server.settings.catalog_path) as catalog:
        assert list_keys(catalog) == []


def test_keys_are_minted_only_with_an_admin_key(keyed_server: Served) -> None:
    body = {"scope": "admin", "name": "minted"}
    with keyed_server.client() as anonymous:
        assert_error(anonymous.post("/keys", json=body), 401)
    with keyed_server.client("read") as reader:
        assert_error(reader.post("/keys", json=body), 403, "insufficient_scope")
    with keyed_server.client("admin") as admin:
        created = admin.post("/keys", json=body)
        assert created.status_code == 201 and created.json()["secret"].startswith("mnemo_")


def test_the_last_key_cannot_be_revoked_over_http(tmp_path: Path) -> None:
    with start(tmp_path, keys=("admin",)) as served:
        with served.client("admin") as admin:
            (only,) = admin.get("/keys").json()
            message = assert_error(admin.delete(f"/keys/{only['id']}"), 409, "last_key")
            assert "--no-auth" in message
            assert admin.get("/keys").status_code == 200  # still in force
            other = admin.post("/keys", json={"scope": "admin"}).json()
            assert admin.delete(f"/keys/{only['id']}").status_code == 200
        with served.client() as anonymous:
            assert_error(anonymous.get("/collections"), 401)  # the server did not open up
            bearer = {"Authorization": f"Bearer {other['secret']}"}
            assert anonymous.get("/collections", headers=bearer).status_code == 200


def test_a_server_bound_beyond_loopback_never_opens(tmp_path: Path) -> None:
    with start(tmp_path, host="0.0.0.0") as served:  # no keys at all
        with served.client() as client:
            assert_error(client.get("/collections"), 401, "missing_key")
            assert_error(client.post("/mcp/", json=MCP_INIT, headers=MCP_HEADERS), 401)


# -- headers ----------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(
    open_server: Served, keyed_server: Served
) -> None:
    with open_server.client() as client:
        responses = [
            client.get("/healthz"),
            client.get("/collections"),
            client.get("/openapi.json"),
            client.get("/v1/models"),
            client.get("/no-such-page"),
            client.post("/collections/default/search", json={}),
            client.get("/collections", headers={"Host": "evil.example"}),
            client.post("/collections", headers={"Origin": "https://evil.example"}),
            client.post("/mcp/", json=MCP_INIT, headers=MCP_HEADERS),
            client.post("/mcp/", content=b"{", headers={**MCP_HEADERS, "content-type": "text/x"}),
        ]
    with keyed_server.client() as anonymous:
        responses.append(anonymous.get("/collections"))
    statuses = {r.status_code for r in responses}
    assert {200, 400, 401, 403, 404, 421, 422} <= statuses
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)
    assert "default-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


def test_no_pages_load_scripts_from_elsewhere(open_server: Served) -> None:
    with open_server.client() as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").json()["paths"]


# -- bodies and authentication --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/collections/default/search", "/v1/chat/completions", "/mcp/", "/collections"]
)
def test_only_the_upload_route_takes_large_bodies_whatever_the_content_type(
    open_server: Served, path: str
) -> None:
    body = b"--x\r\n" + b"a" * (200 * 1024) + b"\r\n--x--\r\n"  # over max_body_kb (64)
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    with open_server.client() as client:
        message = assert_error(client.post(path, content=body, headers=multipart), 413)
        assert "server.max_body_kb" in message


def test_the_upload_route_has_its_own_limit(open_server: Served) -> None:
    with open_server.client() as client:
        medium = {"file": ("big.bin", b"\x00" * (200 * 1024), "application/octet-stream")}
        reached = client.post("/collections/default/documents", files=medium)
        assert_error(reached, 415)  # past the body limit, refused by content
        huge = {"file": ("big.txt", b"a" * (2 * 1024 * 1024), "text/plain")}
        message = assert_error(client.post("/collections/default/documents", files=huge), 413)
        assert "server.max_upload_mb" in message


def test_bad_filter_dates_are_422_naming_the_field(open_server: Served) -> None:
    with open_server.client() as client:
        for field in ("modified_after", "modified_before"):
            body = {"query": "tides", "filters": {field: "0001-01-01T00:00:00"}}
            message = assert_error(
                client.post("/collections/default/search", json=body), 422, "invalid_request"
            )
            assert field in message


def test_authentication_comes_before_the_body(keyed_server: Served) -> None:
    """The client announces a body and never sends it: the answer must not wait for it."""
    head = (
        f"POST /collections/default/search HTTP/1.1\r\nHost: 127.0.0.1:{keyed_server.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
    )
    reply = raw_request(keyed_server.port, head.encode(), timeout=5)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


def test_failed_authentication_is_rate_limited_per_address(tmp_path: Path) -> None:
    with start(tmp_path, keys=("read",), auth_failure_limit=5) as served:
        with served.client() as client:
            wrong = {"Authorization": "Bearer mnemo_0000_guess"}
            statuses = [client.get("/collections", headers=wrong).status_code for _ in range(5)]
            assert statuses == [401] * 5
            limited = client.get("/collections", headers=wrong)
            message = assert_error(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) >= 1 and "failed" in message
            assert_error(client.post("/mcp/", json=MCP_INIT, headers=MCP_HEADERS), 429)
        with served.client("read") as reader:  # a valid key from the same address still works
            assert reader.get("/collections").status_code == 200

"""The MCP server, driven by the official MCP SDK's client over stdio and streamable HTTP.

A few documents are indexed once with the real default embedder; `mnemo mcp` runs as a
real subprocess against them, and `http_app` is served by uvicorn, mounted in FastAPI
as the REST server mounts it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

import mnemo
from mnemo.config import load_settings
from mnemo.library import Library
from mnemo.server.mcp_server import http_app

DOCS = {
    "notes/whatsapp.md": (
        "# Acquisitions\n\n"
        "Facebook acquired WhatsApp in 2014 for 19 billion dollars. "
        "The deal was announced in February of that year.\n\n"
        "## Founders\n\n"
        "WhatsApp was founded in 2009 by Jan Koum and Brian Acton, two former Yahoo employees.\n"
    ),
    "notes/tides.md": (
        "# Tides\n\n"
        "Tides are caused mainly by the gravitational pull of the Moon on the oceans. "
        "Spring tides happen when the Sun and the Moon line up.\n"
    ),
    "projects/falcon.md": (
        "# Project Falcon\n\n"
        "Project Falcon's launch date is 12 March 2027. The Falcon team has six engineers.\n"
    ),
}
TOOLS = {
    "search",
    "ask",
    "add_document",
    "list_documents",
    "get_document",
    "list_jobs",
    "cancel_job",
    "give_feedback",
    "research",
    "links",
    "build_eval_set",
    "evaluate",
    "tune_search",
    "read_eval_report",
    "list_eval_sets",
    "list_traces",
    "show_trace",
    "trace_drift",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DOCS indexed in ``home``; ``inbox`` is the one folder clients may add from."""
    root = tmp_path_factory.mktemp("mcp")
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "inbox").mkdir()
    (root / "inbox" / "orchids.md").write_text(
        "# Orchids\n\nThe vanilla orchid is pollinated by hand in Madagascar.\n"
    )
    home = root / "home"
    home.mkdir()
    (home / "mnemo.toml").write_text(
        f"[server]\nallowed_roots = [{json.dumps(str(root / 'inbox'))}]\n"
    )
    report = mnemo.add([root / "docs"], load_settings(home, {"ingest": {"workers": 1}}))
    assert report.counts["indexed"] == len(DOCS)
    return root


class Agent:
    """An MCP client session, driven from synchronous tests through a blocking portal."""

    def __init__(self, portal: BlockingPortal, session: ClientSession) -> None:
        self.portal = portal
        self.session = session

    def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        async def bounded() -> Any:
            with anyio.fail_after(120):
                return await call()

        return self.portal.call(bounded)

    def tool(self, name: str, **arguments: Any) -> CallToolResult:
        return self.run(lambda: self.session.call_tool(name, arguments))  # type: ignore[no-any-return]

    def result(self, name: str, **arguments: Any) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        called = self.tool(name, **arguments)
        assert not called.is_error, _text(called)
        assert isinstance(called.structured_content, dict)
        return called.structured_content


@contextmanager
def connected(
    transport: Callable[[], AbstractAsyncContextManager[tuple[Any, Any]]],
) -> Iterator[Agent]:
    @asynccontextmanager
    async def session() -> AsyncIterator[ClientSession]:
        async with transport() as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            yield client

    with start_blocking_portal() as portal, portal.wrap_async_context_manager(session()) as client:
        yield Agent(portal, client)


@pytest.fixture(scope="module")
def server_log(root: Path) -> Iterator[TextIO]:
    with (root / "server-stderr.txt").open("w+") as log:
        yield log


@pytest.fixture(scope="module")
def agent(root: Path, server_log: TextIO) -> Iterator[Agent]:
    """`mnemo mcp` as a subprocess, as an editor agent starts it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mnemo", "mcp"],
        env={
            "MNEMO_HOME": str(root / "home"),
            "MNEMO_INGEST__WORKERS": "1",
            "HF_HUB_OFFLINE": "1",
            "HOME": str(root / "user-home"),
            # the code under test, also when it is a checkout that PYTHONPATH puts first
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        },
    )
    with connected(lambda: stdio_client(params, errlog=server_log)) as agent:
        yield agent


def _text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_tools_are_described_for_an_agent(agent: Agent) -> None:
    tools = {t.name: t for t in agent.run(agent.session.list_tools).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.output_schema is not None, tool.name
        properties = tool.input_schema["properties"]
        assert properties, tool.name
        for name, schema in properties.items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["search"].annotations.read_only_hint is True


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_search_returns_citable_passages(agent: Agent) -> None:
    found = agent.result("search", query="When did Facebook buy WhatsApp?", k=3)
    best = found["passages"][0]
    assert best["path"].endswith("notes/whatsapp.md")
    assert "19 billion dollars" in best["text"]
    assert best["heading_path"] == ["Acquisitions"]
    assert best["uri"] == f"mnemo://default/document/{best['document_id']}"
    assert best["chunk_id"] and best["snippet"] and best["score"] > 0
    assert found["retrievers"] == ["bm25", "dense"]

    narrowed = agent.result("search", query="moon", path_glob="projects/*", mode="bm25")
    assert all(p["path"].endswith("projects/falcon.md") for p in narrowed["passages"])


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_ask_cites_the_file_that_answers(agent: Agent) -> None:
    answer = agent.result("ask", question="Who founded WhatsApp?")
    assert answer["kind"] == "extractive"
    assert "Jan Koum" in answer["answer"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert citation["path"].endswith("notes/whatsapp.md")
        assert citation["verdict"] == "quoted"
        assert citation["quote"]
    numbers = {s["number"] for s in answer["sources"]}
    assert {c["number"] for c in answer["citations"]} <= numbers


def test_a_follow_up_is_understood_from_the_earlier_questions(agent: Agent) -> None:
    answer = agent.result(
        "ask", question="Who founded it?", earlier_questions=["When did Facebook buy WhatsApp?"]
    )
    assert "WhatsApp" in answer["searched"]  # made to stand alone before searching
    assert answer["kind"] == "extractive"
    assert "Jan Koum" in answer["answer"]
    alone = agent.result("ask", question="Who founded it?")
    assert alone["searched"] == "Who founded it?"


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_research_answers_each_part_and_lists_its_steps(agent: Agent) -> None:
    found = agent.result(
        "research", question="Who founded WhatsApp, and when does Project Falcon launch?"
    )
    assert "Jan Koum" in found["answer"] and "12 March 2027" in found["answer"]
    assert found["unanswered"] == []
    paths = {c["path"].rsplit("/", 1)[-1] for c in found["citations"]}
    assert paths == {"whatsapp.md", "falcon.md"}
    kinds = [s["kind"] for s in found["steps"]]
    assert kinds[0] == "plan" and kinds.count("tool") == 2 and kinds[-1] == "verify"
    missing = agent.tool("links", document="nowhere.md")
    assert missing.is_error and "no document 'nowhere.md'" in _text(missing)


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_mnemo_errors_are_one_line_tool_errors(agent: Agent, server_log: TextIO) -> None:
    failed = agent.tool("search", query="tides", collection="nonesuch")
    assert failed.is_error
    assert "no collection named 'nonesuch'" in _text(failed)
    assert "\n" not in _text(failed)
    server_log.seek(0)
    assert "Traceback" not in server_log.read()


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_added_text_is_found_by_search(agent: Agent, root: Path) -> None:
    added = agent.result(
        "add_document",
        text="Zanzibarite is a blue gemstone mined near the Kilimanjaro foothills.",
        title="Blue gemstones",
    )
    note = root / "home" / "notes" / "default" / "blue-gemstones.md"
    assert added["path"] == str(note) and note.exists()
    assert added["counts"]["indexed"] == 1 and added["problems"] == []
    found = agent.result("search", query="zanzibarite gemstone", k=1)
    assert found["passages"][0]["path"] == str(note)
    assert found["passages"][0]["title"] == "Blue gemstones"


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_adding_by_path_is_confined_to_allowed_roots(agent: Agent, root: Path) -> None:
    outside = agent.tool("add_document", path=str(root / "docs" / "notes" / "tides.md"))
    assert outside.is_error
    message = _text(outside)
    assert "outside the folders this server may add from" in message
    assert str(root / "inbox") in message

    sneaky = agent.tool("add_document", path=str(root / "inbox" / ".." / "docs"))
    assert sneaky.is_error and "outside the folders" in _text(sneaky)

    inside = agent.result("add_document", path=str(root / "inbox" / "orchids.md"))
    assert inside["counts"]["indexed"] == 1

    both = agent.tool("add_document", text="x", path=str(root / "inbox"))
    assert both.is_error and "either text" in _text(both)


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_a_url_to_a_private_address_is_refused(agent: Agent) -> None:
    refused = agent.tool("add_document", url="http://127.0.0.1:9/admin")
    assert refused.is_error
    assert "127.0.0.1 is a loopback address" in _text(refused) and "\n" not in _text(refused)
    metadata = agent.tool("add_document", url="http://169.254.169.254/latest/meta-data/")
    assert metadata.is_error and "link-local" in _text(metadata)


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_list_and_get_documents(agent: Agent) -> None:
    listed = agent.result("list_documents", state="indexed")
    paths = [d["path"] for d in listed["documents"]]
    for name in DOCS:
        assert any(p.endswith(name) for p in paths), name
    tides = next(d for d in listed["documents"] if d["path"].endswith("tides.md"))
    assert tides["state"] == "indexed" and tides["chunks"] >= 1

    by_name = agent.result("get_document", path_or_id="tides.md")
    assert by_name["document"]["id"] == tides["id"]
    assert "gravitational pull of the Moon" in by_name["chunks"][0]["text"]
    assert by_name["total_chunks"] == len(by_name["chunks"]) and by_name["next_start"] is None
    assert agent.result("get_document", path_or_id=tides["id"])["document"]["path"] == tides["path"]

    unknown = agent.tool("get_document", path_or_id="nowhere.md")
    assert unknown.is_error and "list_documents" in _text(unknown)


@pytest.mark.slow  # `mnemo mcp` as a real process over stdio
def test_documents_are_resources(agent: Agent) -> None:
    resources = agent.run(agent.session.list_resources).resources
    falcon = next(r for r in resources if r.name.endswith("projects/falcon.md"))
    assert falcon.title == "Project Falcon"
    read = agent.run(lambda: agent.session.read_resource(str(falcon.uri)))
    assert read.contents[0].text.strip() == DOCS["projects/falcon.md"].strip()

    templates = agent.run(agent.session.list_resource_templates).resource_templates
    assert [t.uri_template for t in templates] == ["mnemo://{collection}/document/{document_id}"]
    with pytest.raises(MCPError, match="no document"):
        agent.run(lambda: agent.session.read_resource("mnemo://default/document/0123abcd"))


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_streamable_http_mounted_in_fastapi(root: Path) -> None:
    settings = load_settings(root / "home", {"ingest": {"workers": 1}})
    mcp_app = http_app(Library(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_app.router.lifespan_context(mcp_app):
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/mcp", mcp_app)
    with serving(app) as base, connected(lambda: streamable_http_client(f"{base}/mcp")) as agent:
        assert {t.name for t in agent.run(agent.session.list_tools).tools} == TOOLS
        found = agent.result("search", query="What causes tides?", k=2)
        assert found["passages"][0]["path"].endswith("notes/tides.md")

"""Feedback that changes something: every answer has a message id to judge it by, from
the CLI, REST, /v1 and MCP; judgements are listed and exported; a correction saved as a
note is indexed, so the next answer cites it.

Real files, a real catalog and index in a temporary home; real HTTP servers on
loopback; the official OpenAI and MCP clients.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI

from mnemo import Library
from mnemo.catalog import Catalog
from mnemo.config import Settings
from mnemo.server.auth import create_key
from mnemo.server.mcp_server import http_app
from serverutil import build_library, serving
from test_mcp import connected


def _message_id(cli, question: str) -> str:
    shown = json.loads(cli("ask", question, "--json", check=True).stdout)
    assert shown["message_id"]
    return str(shown["message_id"])


def test_cli_correction_becomes_a_note_the_next_answer_cites(cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "falcon.md").write_text(
        "# Project Falcon\n\nProject Falcon replaces the old billing system.\n"
    )
    cli("add", str(notes), check=True)
    question = "Who leads Project Falcon?"
    message = _message_id(cli, question)
    given = cli(
        "feedback", "give", message, "--down",
        "--correct", "Maria Lopez leads Project Falcon from the Lisbon office.",
        "--save-note",
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert "now a note of the collection" in given.stdout

    again = json.loads(cli("ask", question, "--no-cache", "--json", check=True).stdout)
    cited = {s["path"] for s in again["sources"]}
    assert any("correction-who-leads-project-falcon" in p for p in cited), cited
    assert "Maria Lopez" in again["text"]

    listed = json.loads(cli("feedback", "list", "--json", check=True).stdout)
    assert [(e["message_id"], e["thumbs"], e["bad"]) for e in listed] == [(message, "down", True)]
    # the log that gives one-off answers their message ids is no conversation of the reader's
    assert json.loads(cli("conversations", "list", "--json", check=True).stdout) == []
    assert listed[0]["question"] == question
    out = tmp_path / "feedback.jsonl"
    cli("feedback", "export", str(out), check=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["correction"].startswith("Maria Lopez")


def test_cli_rejects_a_bad_message_id_in_one_line(cli) -> None:
    cli("collections", "create", "default", check=True)
    failed = cli("feedback", "give", "not-an-id", "--up")
    assert failed.returncode != 0
    assert "is not a message id" in failed.stderr
    assert "Traceback" not in failed.stderr
    empty = cli("feedback", "give", "0" * 32 + "-0")
    assert empty.returncode != 0 and "say something" in empty.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    settings = build_library(tmp_path_factory.mktemp("feedback"))
    with Catalog(settings.catalog_path) as catalog:
        _, secret = create_key(catalog, "write", "feedback")
    return settings, secret


def test_rest_and_v1_answers_are_judged_by_their_message_ids(
    served: tuple[Settings, str],
) -> None:
    settings, secret = served
    headers = {"Authorization": f"Bearer {secret}"}
    with serving(settings) as url, httpx.Client(base_url=url, headers=headers, timeout=120) as c:
        rest = c.post("/collections/default/ask", json={"question": "When is the Falcon launch?"})
        rest_id = rest.json()["message_id"]
        judged = c.post("/feedback", json={"message_id": rest_id, "thumbs": "up", "rating": 5})
        assert judged.status_code == 201, judged.text

        chat = OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
        completion = chat.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "What causes tides?"}]
        )
        assert completion.id.startswith("chatcmpl-")
        v1 = c.post("/v1/feedback", json={"message_id": completion.id, "thumbs": "down"})
        assert v1.status_code == 201, v1.text

        unknown = c.post("/feedback", json={"message_id": "f" * 32 + "-3", "thumbs": "up"})
        assert unknown.status_code == 404
        listed = c.get("/feedback").json()
        started = c.post("/collections/default/conversations", json={"title": "Launch"})
        chats = c.get("/collections/default/conversations").json()
    # the logs of REST and /v1 answers are not listed as conversations; a real one is
    assert [chat["id"] for chat in chats] == [started.json()["id"]]
    assert [(e["message_id"], e["thumbs"]) for e in listed] == [
        (rest_id, "up"),
        (completion.id.removeprefix("chatcmpl-"), "down"),
    ]
    assert listed[1]["question"] == "What causes tides?"
    assert listed[1]["bad"] is True


def test_mcp_agent_judges_the_answer_it_got(served: tuple[Settings, str]) -> None:
    settings, _ = served
    library = Library(settings)
    mcp_app = http_app(library)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_app.router.lifespan_context(mcp_app):
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/mcp", mcp_app)
    with (
        serving(settings, app) as base,
        connected(lambda: streamable_http_client(f"{base}/mcp")) as agent,
    ):
        answer = agent.result("ask", question="How many engineers are in the Falcon team?")
        judged = agent.result(
            "give_feedback",
            message_id=answer["message_id"],
            rating=2,
            correction="The Falcon team has six engineers.",
        )
    assert judged["message_id"] == answer["message_id"]
    found = {e.message_id: e for e in library.feedback_entries()}
    entry = found[answer["message_id"]]
    assert entry.rating == 2 and entry.bad
    assert entry.question == "How many engineers are in the Falcon team?"
    library.close()

"""The chat page's conversations through the test client: reopened answers still open the
exact passage, renamed, exported as Markdown, judged (thumbs, corrections), asked of
one whole document, and abstentions with their nearest passages."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from mnemo.catalog import Catalog
from mnemo.config import Settings
from mnemo.library import Library
from mnemo.server.app import create_app
from mnemo.server.auth import create_key
from uiutil import build, csrf

BASE = "http://127.0.0.1"
TURBINES = "How many megawatts did the turbine array produce at peak flow?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    settings = build(tmp_path_factory.mktemp("chat"))
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, settings


def links(page: str, prefix: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', page)]


def ask(client: TestClient, question: str, **fields: str) -> tuple[str, str]:
    """The page after asking in a new conversation, and the conversation's id."""
    token = csrf(client.get("/ui/chat").text)
    page = client.post(
        "/ui/chat/ask", data={"csrf": token, "c": "default", "question": question, **fields}
    )
    assert page.status_code == 200, page.text
    conv = re.search(r'name="conv" value="([0-9a-f]{32})"', page.text)
    assert conv
    return page.text, conv.group(1)


def test_a_reopened_answer_still_opens_the_highlighted_passage(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    answered, conv = ask(client, TURBINES)
    # The passage runs from page 1 to page 2; the quoted sentence is on page 2.
    assert "page=2" in links(answered, "/ui/view")[0]
    reopened = client.get("/ui/chat", params={"conv": conv}).text
    chip = links(reopened, "/ui/view")[0]
    assert "chunk=" in chip and "page=2" in chip
    viewer = client.get(chip).text
    assert "page 2 of 2</span>" in viewer and "Cited passage" in viewer
    assert "42 megawatts" in viewer.split("<figcaption>")[1]
    assert "Sources (1)" in reopened


def test_a_follow_up_is_searched_with_the_conversations_context(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    _, conv = ask(client, TURBINES)
    token = csrf(client.get("/ui/chat", params={"conv": conv}).text)
    page = client.post(
        "/ui/chat/ask",
        data={"csrf": token, "c": "default", "conv": conv, "question": "Who inspected them?"},
    ).text
    shown = html.unescape(page)
    searched = re.search(r"Searched for: ([^<]*)", shown)
    assert searched and "turbine" in searched.group(1)  # the earlier question's terms
    assert "Maintenance divers" in shown
    reopened = html.unescape(client.get("/ui/chat", params={"conv": conv}).text)
    assert f"Searched for: {searched.group(1)}" in reopened
    assert shown.count("Searched for:") == 1  # not on the first question, which stood alone


def test_a_conversation_is_renamed_and_exported_as_markdown(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    page, conv = ask(client, TURBINES)
    token = csrf(page)
    renamed = client.post(
        "/ui/chat/rename",
        data={"csrf": token, "c": "default", "conv": conv, "title": "Tidal <power> notes"},
    )
    assert renamed.status_code == 200 and "renamed the conversation" in renamed.text
    assert "Tidal &lt;power&gt; notes" in renamed.text and "<power>" not in renamed.text
    empty = client.post(
        "/ui/chat/rename", data={"csrf": token, "c": "default", "conv": conv, "title": "  "}
    )
    assert empty.status_code == 400 and "title cannot be empty" in empty.text

    export = client.get("/ui/chat/export", params={"conv": conv})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/markdown")
    assert export.headers["content-disposition"] == 'attachment; filename="tidal-power-notes.md"'
    markdown = export.text
    assert markdown.startswith("# Tidal <power> notes\n")
    assert f"## {TURBINES}" in markdown and "*Extractive answer" in markdown
    assert "42 megawatts" in markdown and "[1]" in markdown
    assert re.search(r"- \[1\] .*tidal\.pdf, page \d — quoted", markdown)
    assert client.get("/ui/chat/export", params={"conv": "nope"}).status_code == 404


def test_thumbs_and_a_correction_are_stored_and_shown(site: tuple[TestClient, Settings]) -> None:
    client, settings = site
    page, conv = ask(client, TURBINES)
    token = csrf(page)
    up = client.post(
        "/ui/chat/feedback",
        data={"csrf": token, "c": "default", "conv": conv, "position": "0", "thumbs": "up"},
    )
    assert up.status_code == 200 and "your feedback on the answer is saved" in up.text
    assert re.search(r'value="up" class="[^"]*pressed" aria-pressed="true"', up.text)
    fixed = client.post(
        "/ui/chat/feedback",
        data={
            "csrf": token,
            "c": "default",
            "conv": conv,
            "position": "0",
            "correction": "It was 42 MW at <peak> flow.",
        },
    )
    assert "It was 42 MW at &lt;peak&gt; flow." in fixed.text
    with Library(settings) as library:
        kept = library.feedback(conv)[0]
    assert kept.correction == "It was 42 MW at <peak> flow." and kept.thumbs is None
    nothing = client.post(
        "/ui/chat/feedback", data={"csrf": token, "c": "default", "conv": conv, "position": "0"}
    )
    assert nothing.status_code == 400 and "thumbs up or down, or write a correction" in nothing.text
    beyond = client.post(
        "/ui/chat/feedback",
        data={"csrf": token, "c": "default", "conv": conv, "position": "7", "thumbs": "up"},
    )
    assert beyond.status_code == 404 and "has no answer 7" in html.unescape(beyond.text)


def test_whole_document_mode_reads_the_document_it_was_given(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    viewer_links = links(client.get("/ui/library", params={"q": "whales"}).text, "/ui/view")
    viewer = client.get(viewer_links[0]).text
    ask_link = next(link for link in links(viewer, "/ui/chat") if "doc=" in link)
    chat = client.get(ask_link).text
    assert "Whole-document mode: answers read all of <strong>Whales</strong>" in chat
    doc = re.search(r'name="doc" value="([0-9a-f]+)"', chat)
    assert doc
    page, _ = ask(client, "What is said here?", doc=doc.group(1))
    assert "answered over the whole of whales.md" in page and "largest animals" in page
    unknown = client.post(
        "/ui/chat/ask",
        data={"csrf": csrf(chat), "c": "default", "question": "why?", "doc": "nothing.pdf"},
    )
    assert unknown.status_code == 404 and "no document" in html.unescape(unknown.text)


def test_an_abstention_is_shown_as_such_with_the_nearest_passages_even_when_reopened(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    page, conv = ask(client, "What colour are the harbour's lighthouse shutters?")
    for shown in (page, client.get("/ui/chat", params={"conv": conv}).text):
        assert "Not found in your documents; the nearest passages are below" in shown
        assert "Nearest passages (" in shown and '<details class="sources" open>' in shown
        assert links(shown.split("Nearest passages")[1], "/ui/view")


def test_a_read_key_can_export_but_not_judge(tmp_path: Path) -> None:
    settings = build(tmp_path)
    with Catalog(settings.catalog_path) as catalog:
        _, read = create_key(catalog, "read", "reader")
    with Library(settings) as library:
        conv = library.start_conversation("kept", collection="default")
        library.ask(TURBINES, conversation_id=conv)
    with TestClient(create_app(settings), base_url=BASE) as client:
        token = csrf(client.get("/ui/signin").text)
        client.post("/ui/signin", data={"csrf": token, "key": read})
        page = client.get("/ui/chat", params={"conv": conv}).text
        assert "Helpful" not in page and "Rename" not in page and "Export as Markdown" in page
        refused = client.post(
            "/ui/chat/feedback",
            data={"csrf": csrf(page), "conv": conv, "position": "0", "thumbs": "up"},
        )
        assert refused.status_code == 403
        assert "42 megawatts" in client.get("/ui/chat/export", params={"conv": conv}).text


def test_turns_kept_before_sources_were_still_open_their_document(tmp_path: Path) -> None:
    """A catalog from before migration 0006: its turns have no passage ids."""
    from alembic import command

    from mnemo.catalog.db import alembic_config

    settings = build(tmp_path)
    with Library(settings) as library:
        conv = library.start_conversation("old", collection="default")
    whales = str(tmp_path / "docs" / "notes" / "whales.md")
    cited = json.dumps([{"number": 1, "verdict": "quoted", "path": whales, "page": None}])
    with Catalog(settings.catalog_path) as catalog, catalog.engine.begin() as connection:
        command.downgrade(alembic_config(catalog.engine, connection), "0005")
        connection.execute(
            text(
                "INSERT INTO conversation_turns (conversation_id, position, question, query,"
                " answer, kind, citations, created_at) VALUES (:c, 0, 'q?', 'q?',"
                " 'Blue whales are the largest [1].', 'extractive', :cited, '2026-01-01')"
            ),
            {"c": conv, "cited": cited},
        )
    with TestClient(create_app(settings), base_url=BASE) as client:  # migrates to 0006
        page = client.get("/ui/chat", params={"conv": conv}).text
        chip = links(page, "/ui/view")[0]
        assert "chunk=" not in chip
        assert "largest animals" in client.get(chip).text


def test_an_answer_from_the_cache_says_so(site: tuple[TestClient, Settings]) -> None:
    client, _ = site
    question = "Which animals are the largest ever known to have lived?"
    first, _ = ask(client, question)
    assert "From the answer cache" not in first
    again, _ = ask(client, question)
    assert "From the answer cache: made " in again


def test_research_mode_answers_each_part_and_lists_its_steps(
    site: tuple[TestClient, Settings],
) -> None:
    client, _ = site
    question = (
        "How many megawatts did the turbine array produce at peak flow, "
        "and which animals are the largest ever known to have lived?"
    )
    page, conv = ask(client, question, research="on")
    shown = html.unescape(page)
    assert "42 megawatts" in shown and "Blue whales" in shown
    steps = shown.split("Research steps (")[1]
    assert "plan" in steps and "search" in steps
    reopened = client.get("/ui/chat", params={"conv": conv}).text
    assert "Blue whales" in html.unescape(reopened)  # kept as the conversation's turn

"""Long-term memory: saved when asked (and shown), recalled and cited as memory, listed,
edited and forgotten; scoped per collection and per API key. Through the Library, the
`mnemo memory` commands and the REST API of a real server (research steps as SSE)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mnemo.catalog import Catalog
from mnemo.config import load_settings
from mnemo.errors import MemoryNotFoundError, QueryError
from mnemo.library import Library
from mnemo.server.auth import create_key
from serverutil import build_library, serving


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):
    return build_library(tmp_path_factory.mktemp("memory"))


def test_remember_list_edit_forget_and_scope(tmp_path: Path) -> None:
    with Library(load_settings(tmp_path / "home")) as lib:
        saved = lib.remember("Ana is my manager", collection="work")
        again = lib.remember("  Ana   is my manager ", collection="work")
        assert again.id == saved.id  # the same fact is kept once
        lib.remember("I prefer answers in bullet points", collection="work", key_id=7)
        assert [m.text for m in lib.memories(collection="work")] == ["Ana is my manager"]
        assert [m.text for m in lib.memories(collection="work", key_id=7)] == [
            "I prefer answers in bullet points"
        ]
        lib.remember("nothing", collection="home")
        assert [m.text for m in lib.memories(collection="home")] == ["nothing"]
        assert lib.recall("Who is Ana?", collection="home") == []  # no leak across collections
        assert [m.id for m in lib.recall("Who is Ana?", collection="work")] == [saved.id]
        assert lib.recall("Who is Ana?", collection="work", key_id=7) == []  # nor across keys
        edited = lib.edit_memory(saved.id, "Ana was my manager until May", collection="work")
        assert edited.text == "Ana was my manager until May" and edited.said_in == "cli"
        with pytest.raises(MemoryNotFoundError, match="no memory"):
            lib.forget(saved.id, collection="work", key_id=7)  # another key cannot forget it
        assert lib.forget(saved.id, collection="work").id == saved.id
        assert lib.memories(collection="work") == []
        with pytest.raises(QueryError, match="empty text"):
            lib.remember("   ", collection="work")


def test_research_saves_a_stated_fact_shows_it_and_recalls_it_as_memory(settings) -> None:
    with Library(settings) as lib:
        saved = lib.research(
            "Remember that Ana leads Project Falcon. When does Project Falcon launch?",
            use_llm=False,
        )
        assert saved.remembered is not None and saved.remembered.text == "Ana leads Project Falcon"
        assert saved.remembered.said_in == "research"
        assert any(e.kind == "memory" and "remembered" in e.message for e in saved.trace)
        assert "12 March 2027" in saved.answer.text
        recalled = lib.research("Who leads Project Falcon?", use_llm=False)
        assert [m.text for m in recalled.memories] == ["Ana leads Project Falcon"]
        assert "[M1] Ana leads Project Falcon" in recalled.answer.text
        assert "not your documents" in recalled.answer.text
        assert all(
            c.source is None or "Ana" not in c.source.text for c in recalled.answer.citations
        )
        lib.forget(saved.remembered.id)
        forgotten = lib.research("Who leads Project Falcon?", use_llm=False)
        assert forgotten.memories == [] and "[M1]" not in forgotten.answer.text


def test_memory_commands(cli) -> None:
    added = cli("memory", "add", "Ana is my manager")
    assert added.returncode == 0 and "Remembered #1: Ana is my manager" in added.stdout
    listed = cli("memory", "list", "--json")
    assert [m["text"] for m in json.loads(listed.stdout)] == ["Ana is my manager"]
    assert cli("memory", "edit", "1", "Ana is my boss").returncode == 0
    assert "Ana is my boss" in cli("memory", "list").stdout
    assert "Forgot #1" in cli("memory", "forget", "1").stdout
    missing = cli("memory", "forget", "1")
    assert missing.returncode == 2
    assert "no memory 1" in missing.stderr and "Traceback" not in missing.stderr


def test_rest_memory_is_scoped_per_key_and_research_streams_steps(settings) -> None:
    catalog = Catalog(settings.catalog_path)
    first = create_key(catalog, "write", "first")[1]
    second = create_key(catalog, "write", "second")[1]
    catalog.close()
    with serving(settings) as url:
        one = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {first}"}, timeout=120)
        two = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {second}"}, timeout=120)
        made = one.post("/collections/default/memory", json={"text": "Ana runs Falcon"})
        assert made.status_code == 201 and made.json()["said_in"] == "api"
        memory_id = made.json()["id"]
        assert [m["text"] for m in one.get("/collections/default/memory").json()] == [
            "Ana runs Falcon"
        ]
        listed = one.get("/collections/default/memory").json()[0]  # read back from SQLite
        assert listed["created_at"].endswith(("Z", "+00:00"))
        assert two.get("/collections/default/memory").json() == []
        assert two.delete(f"/collections/default/memory/{memory_id}").status_code == 404
        edited = one.patch(
            f"/collections/default/memory/{memory_id}", json={"text": "Ana runs Project Falcon"}
        )
        assert edited.json()["text"] == "Ana runs Project Falcon"
        assert one.post("/collections/default/memory", json={"text": ""}).status_code == 422

        body = {
            "question": "When does Project Falcon launch, and who runs Project Falcon?",
            "extractive": True,
        }
        answered = one.post("/collections/default/research", json=body).json()
        assert answered["memories"][0]["text"] == "Ana runs Project Falcon"
        assert "12 March 2027" in answered["answer"]["text"]
        other = two.post("/collections/default/research", json=body).json()
        assert other["memories"] == []  # the second key never sees the first key's memory

        steps, final = [], None
        with one.stream(
            "POST", "/collections/default/research", json={**body, "stream": True}
        ) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event == "step":
                        steps.append(data)
                    elif event == "answer":
                        final = data
        kinds = [s["kind"] for s in steps]
        assert kinds[0] == "memory" and "plan" in kinds and kinds.count("tool") >= 2
        # the documents do not say who runs Falcon: that part is unanswered, the memory shown
        assert final is not None and [p["answered"] for p in final["parts"]] == [True, False]
        assert "[M1] Ana runs Project Falcon" in final["answer"]["text"]
        gone = one.delete(f"/collections/default/memory/{memory_id}")
        assert gone.status_code == 200 and one.get("/collections/default/memory").json() == []

"""Answer caches a reader can trust: a question asked again (or rephrased) is answered
from the cache and says so; a question that differs in a year, a name or a number is
not; any add, edit or delete of the collection makes every cached answer unreachable.

Real Markdown files indexed with the packaged embedder in a temporary home; the REST
checks go over real HTTP to a real server.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mnemo import Library
from mnemo.config import Settings, load_settings
from mnemo.generation.answer_cache import key_terms
from serverutil import serving

DOCS = {
    "cups/2014.md": "# 2014\n\nGermany won the World Cup final in 2014, beating Argentina 1-0.\n",
    "cups/2010.md": "# 2010\n\nSpain won the World Cup final in 2010, beating the Netherlands.\n",
    "projects/falcon.md": (
        "# Project Falcon\n\nProject Falcon replaces the old billing system. "
        "Its go-live is planned for 15 September 2024.\n"
    ),
}
ASKED = "Who won the World Cup final in 2014?"


def _home(root: Path) -> Settings:
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    settings = load_settings(root / "home", {"ingest": {"workers": 1}})
    with Library(settings) as library:
        library.add([root / "docs"])
    return settings


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home only asked questions (never changed) by the tests that share it."""
    return _home(tmp_path_factory.mktemp("cache"))


def test_the_same_question_again_comes_from_the_cache_and_says_when(shared: Settings) -> None:
    with Library(shared) as library:
        first = library.ask(ASKED)
        again = library.ask("  who won the world cup final in 2014 ")
        assert first.cached_at is None
        assert again.cached_at is not None
        assert again.text == first.text
        assert [s.path for s in again.sources] == [s.path for s in first.sources]
        assert any("answered from the cache (exact match)" in w for w in again.warnings)
        assert library.cache_stats().exact >= 1


def test_a_rephrased_question_hits_the_semantic_cache(shared: Settings) -> None:
    with Library(shared) as library:
        first = library.ask("When is the go-live of Project Falcon?")
        rephrased = library.ask("When is Project Falcon's go-live?")
    assert rephrased.cached_at is not None
    assert rephrased.text == first.text
    assert any("semantic match" in w for w in rephrased.warnings)


@pytest.mark.parametrize(
    "other",
    [
        "Who won the World Cup final in 2010?",  # another year
        "Who lost the World Cup final in 2014?",  # close wording, another question
        "Who won the Euro final in 2014?",  # another name
    ],
)
def test_a_near_miss_is_never_answered_from_the_cache(shared: Settings, other: str) -> None:
    with Library(shared) as library:
        library.ask(ASKED)
        assert library.ask(other).cached_at is None


def test_key_terms_keep_numbers_names_and_negations_apart() -> None:
    assert key_terms("Who won the 2014 Nobel Prize in Physics?") != key_terms(
        "Who won the 2014 Nobel Prize in Chemistry?"
    )
    assert key_terms("Which drugs are not safe?") != key_terms("Which drugs are safe?")
    assert key_terms("Who won the World Cup in 2014?") == key_terms(
        "In 2014, who won the World Cup?"
    )


def test_add_edit_and_delete_each_make_cached_answers_unreachable(tmp_path: Path) -> None:
    settings = _home(tmp_path)
    docs = tmp_path / "docs"
    with Library(settings) as library:
        library.ask(ASKED)
        assert library.ask(ASKED).cached_at is not None

        (docs / "cups" / "2018.md").write_text("# 2018\n\nFrance won the World Cup in 2018.\n")
        library.sync()
        assert library.ask(ASKED).cached_at is None  # added
        assert library.ask(ASKED).cached_at is not None

        (docs / "cups" / "2014.md").write_text(
            "# 2014\n\nGermany won the World Cup final in 2014 in Rio, beating Argentina.\n"
        )
        library.sync()
        edited = library.ask(ASKED)
        assert edited.cached_at is None  # changed
        assert "in Rio" in " ".join(s.text for s in edited.sources)
        assert library.ask(ASKED).cached_at is not None

        library.remove_document("2014.md")
        gone = library.ask(ASKED)
        assert gone.cached_at is None  # deleted
        assert all(not s.path.endswith("2014.md") for s in gone.sources)


def test_no_cache_answers_afresh_from_the_cli(cli, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "falcon.md").write_text(DOCS["projects/falcon.md"])
    cli("add", str(tmp_path / "notes"), check=True)
    question = "When is the go-live of Project Falcon?"
    cli("ask", question, check=True)
    again = cli("ask", question, check=True)
    assert "cached answer, made" in again.stdout
    fresh = cli("ask", question, "--no-cache", check=True)
    assert "cached answer" not in fresh.stdout
    shown = json.loads(cli("cache", "stats", "--json", check=True).stdout)
    assert shown["exact"] == 1 and shown["entries"] == 1
    assert shown["hit_rate"] == pytest.approx(1 / 2)  # --no-cache does not look: 2 asked


def test_cached_answers_over_rest_and_metrics(shared: Settings) -> None:
    with serving(shared) as url, httpx.Client(base_url=url, timeout=120) as client:
        body = {"question": "Whom did Spain beat in the World Cup final in 2010?"}
        client.post("/collections/default/ask", json=body).raise_for_status()
        cached = client.post("/collections/default/ask", json=body).json()
        fresh = client.post("/collections/default/ask", json={**body, "cache": False}).json()
        stats = client.get("/cache/stats").json()
        metrics = client.get("/metrics").text
    assert cached["cached_at"] is not None and fresh["cached_at"] is None
    assert cached["message_id"] and cached["message_id"] != fresh["message_id"]
    assert stats["exact"] >= 1
    assert 'mnemo_answer_cache_answers_total{source="cache"} 1.0' in metrics
    assert 'mnemo_answer_cache_answers_total{source="fresh"} 2.0' in metrics
    assert "mnemo_answer_cache_saved_seconds_total" in metrics

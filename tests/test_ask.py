"""`ask`: grounded answers with checked citations, offline and through real LLM SDKs.

One small collection is indexed once with the real default embedder; the language
models are local servers speaking the OpenAI and Anthropic protocols (tests/llmserver.py),
scripted per test. Mnemo's own code runs unpatched.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mnemo
from llmserver import MODEL, Script, serve_anthropic, serve_openai, source_number
from mnemo.config import Settings, load_settings
from mnemo.errors import ConversationError, QueryError
from mnemo.generation.prompts import COMBINE, NOTES, SYSTEM


@pytest.fixture
def library(indexed_library: Path) -> Path:
    """The session's indexed library (keyword and dense, the packaged embedder). Tests here
    read its documents; the conversation tests add conversations, never documents."""
    return indexed_library


@pytest.fixture
def settings_for(library: Path) -> Callable[..., Settings]:
    def build(**sections: dict[str, Any]) -> Settings:
        return load_settings(library, {"ingest": {"workers": 1}, **sections})

    return build


def openai_llm(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "llm": {
            "provider": "openai-compatible",
            "model": MODEL,
            "base_url": url,
            "max_retries": 0,
            **extra,
        }
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- offline -------------------------------------------------------------------------


def test_extractive_answer_quotes_the_document_with_citations(settings_for) -> None:
    answer = mnemo.ask("Who bought WhatsApp?", settings_for())
    assert answer.kind == "extractive"
    assert "Facebook acquired WhatsApp in 2014" in answer.text
    assert answer.citations and all(c.verdict == "quoted" for c in answer.citations)
    first = answer.citations[0]
    assert first.source is not None and first.source.path.endswith("whatsapp.md")
    for citation in answer.citations:  # every quote is the cited passage's own words
        assert citation.source is not None
        assert citation.quote in " ".join(citation.source.text.split())
        assert f"[{citation.number}]" in answer.text


def test_unrelated_question_abstains_and_shows_nearest_passages(settings_for) -> None:
    answer = mnemo.ask("What is the boiling point of liquid nitrogen in kelvin?", settings_for())
    assert answer.kind == "abstained"
    assert answer.citations == []
    assert "do not answer" in answer.text
    assert 0 < len(answer.sources) <= 3
    assert any("min_rerank_score" in w for w in answer.warnings)


def test_without_reranking_the_dense_similarity_decides(settings_for) -> None:
    plain = settings_for(answer={"rerank": False})
    answer = mnemo.ask("What is the boiling point of liquid nitrogen in kelvin?", plain)
    assert answer.kind == "abstained"
    assert any("min_relevance" in w for w in answer.warnings)
    answered = mnemo.ask("Who bought WhatsApp?", plain)
    assert answered.kind == "extractive" and "WhatsApp" in answered.text


def test_empty_question_is_refused(settings_for) -> None:
    with pytest.raises(QueryError, match="empty question"):
        mnemo.ask("   ", settings_for())


# --- generated answers through the OpenAI-compatible SDK --------------------------------


def test_streamed_answer_with_supported_citations(settings_for) -> None:
    def reply(body: dict[str, Any]) -> str:
        bought = source_number(body, "whatsapp.md", "acquired")
        founded = source_number(body, "whatsapp.md", "founded")
        return (
            f"Facebook acquired WhatsApp in 2014 [{bought}]. "
            f"It was founded by Jan Koum and Brian Acton [{founded}]."
        )

    script = Script(replies=[reply])
    pieces: list[str] = []
    with serve_openai(script) as url:
        answer = mnemo.ask(
            "Who bought WhatsApp and who founded it?",
            settings_for(**openai_llm(url)),
            on_text=pieces.append,
        )
    assert len(pieces) > 5  # streamed word by word
    assert "".join(pieces).strip() == answer.text
    assert answer.kind == "generated" and answer.model == f"openai-compatible:{MODEL}"
    assert [c.verdict for c in answer.citations] == ["supported", "supported"]
    assert all(c.source and c.source.path.endswith("whatsapp.md") for c in answer.citations)
    assert "Koum" in answer.citations[1].quote
    assert answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0
    sent = script.requests[0]
    assert sent["stream"] is True and sent["messages"][0] == {"role": "system", "content": SYSTEM}


def test_citation_to_a_source_that_was_not_given_is_removed_and_reported(settings_for) -> None:
    def reply(body: dict[str, Any]) -> str:
        n = source_number(body, "whatsapp.md", "acquired")
        return f"Facebook acquired WhatsApp [{n}]. The price was 19 billion dollars [77]."

    with serve_openai(Script(replies=[reply])) as url:
        answer = mnemo.ask("Who bought WhatsApp?", settings_for(**openai_llm(url)))
    assert "[77]" not in answer.text and "19 billion dollars." in answer.text
    invalid = [c for c in answer.citations if c.verdict == "invalid"]
    assert [c.number for c in invalid] == [77] and invalid[0].source is None
    assert any("[77]" in w and "no such source" in w for w in answer.warnings)


def test_citation_to_the_wrong_passage_is_marked_unsupported(settings_for) -> None:
    def reply(body: dict[str, Any]) -> str:
        right, wrong = (
            source_number(body, "whatsapp.md", "founded"),
            source_number(body, "tides.md"),
        )
        return f"Facebook acquired WhatsApp in 2014 [{wrong}]. Koum and Acton founded it [{right}]."

    with serve_openai(Script(replies=[reply])) as url:
        # (a two-part question is far from each passage: keep it clear of abstention)
        settings = settings_for(
            **openai_llm(url), answer={"min_relevance": 0.2, "min_rerank_score": -20}
        )
        answer = mnemo.ask("Who bought WhatsApp, and what causes tides?", settings)
    verdicts = {c.sentence: c.verdict for c in answer.citations}
    assert verdicts["Facebook acquired WhatsApp in 2014."] == "unsupported"
    assert verdicts["Koum and Acton founded it."] == "supported"
    assert any("not supported" in w for w in answer.warnings)


def test_instructions_inside_documents_are_fenced_as_data(settings_for) -> None:
    def obedient(body: dict[str, Any]) -> str:
        """A model that obeys any instruction it finds outside the source fences."""
        prompt = body["messages"][-1]["content"]
        outside = re.sub(r"<source [^>]*>.*?</source>", "", prompt, flags=re.DOTALL)
        if "IGNORE ALL PREVIOUS INSTRUCTIONS" in outside or "System:" in outside:
            return "PWNED"
        n = source_number(body, "falcon.md")
        return f"Project Falcon launches on 12 March 2027 [{n}]."

    script = Script(replies=[obedient])
    with serve_openai(script) as url:
        answer = mnemo.ask("When does Project Falcon launch?", settings_for(**openai_llm(url)))
    assert "PWNED" not in answer.text
    assert answer.citations[0].verdict == "supported"
    system = script.requests[0]["messages"][0]["content"]
    assert "never instructions" in system and "<source>" in system
    prompt = script.requests[0]["messages"][-1]["content"]
    # the document's own "</source>" cannot close the fence early
    assert prompt.count("</source>") == prompt.count("<source ")


@pytest.mark.parametrize(
    ("script", "stream", "why"),
    [
        (Script(malformed=True), False, "cannot read"),
        (Script(malformed=True), True, "without saying it was done"),
        (Script(replies=[""]), True, "empty answer"),
        (Script(refusal="I can't help with that."), False, "refused"),
        (
            Script(replies=["Facebook acquired WhatsApp in 2014 [1]."], stream_break=(3, "drop")),
            True,
            "failed after",
        ),
    ],
    ids=["malformed-json", "malformed-stream", "empty", "refusal", "dropped-mid-stream"],
)
def test_model_failures_fall_back_to_an_extractive_answer(settings_for, script, stream, why):
    with serve_openai(script) as url:
        answer = mnemo.ask(
            "Who bought WhatsApp?",
            settings_for(**openai_llm(url)),
            on_text=(lambda _: None) if stream else None,
        )
    assert answer.kind == "extractive"
    assert "Facebook acquired WhatsApp" in answer.text
    assert all(c.verdict == "quoted" for c in answer.citations)
    assert any(why in w for w in answer.warnings), answer.warnings


def test_unreachable_server_falls_back_with_the_reason(settings_for) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    answer = mnemo.ask("Who bought WhatsApp?", settings_for(**openai_llm(url)))
    assert answer.kind == "extractive" and answer.citations
    assert any("unreachable" in w for w in answer.warnings)


def test_context_window_overflow_retries_with_fewer_sources(settings_for) -> None:
    script = Script(error=(400, "context_length_exceeded", "maximum context length is 10 tokens"))
    with serve_openai(script) as url:
        answer = mnemo.ask("Who bought WhatsApp?", settings_for(**openai_llm(url)))
    shown = [body["messages"][-1]["content"].count("<source ") for body in script.requests]
    assert shown == sorted(shown, reverse=True) and shown[-1] == 1 and len(shown) > 1
    assert any("retried with" in w for w in answer.warnings)
    assert answer.kind == "extractive"


def test_question_longer_than_the_model_budget_is_refused(settings_for) -> None:
    with serve_openai(Script()) as url:
        settings = settings_for(**openai_llm(url, context_window=1024, max_answer_tokens=256))
        with pytest.raises(QueryError, match="too long"):
            mnemo.ask("why " * 400, settings)


def test_anthropic_answer_is_checked_the_same_way(settings_for) -> None:
    def reply(body: dict[str, Any]) -> str:
        return f"Tides are caused by the Moon's gravity [{source_number(body, 'tides.md')}]."

    script = Script(replies=[reply], key="sk-ant-test")
    with serve_anthropic(script) as url:
        settings = settings_for(
            llm={
                "provider": "anthropic",
                "model": MODEL,
                "base_url": url,
                "api_key": "sk-ant-test",
                "max_retries": 0,
            }
        )
        answer = mnemo.ask("What causes tides?", settings)
    assert answer.kind == "generated" and answer.model == f"anthropic:{MODEL}"
    assert [c.verdict for c in answer.citations] == ["supported"]
    assert script.requests[0]["system"] == SYSTEM


# --- conversations ------------------------------------------------------------------------


def test_follow_up_is_rewritten_and_the_conversation_kept(settings_for) -> None:
    def answer_whatsapp(body: dict[str, Any]) -> str:
        return f"Facebook acquired WhatsApp in 2014 [{source_number(body, 'whatsapp.md', 'acquired')}]."

    def founders(body: dict[str, Any]) -> str:
        n = source_number(body, "whatsapp.md", "founded")
        return f"Jan Koum and Brian Acton founded WhatsApp in 2009 [{n}]."

    script = Script(replies=[answer_whatsapp, "When was WhatsApp founded and by whom", founders])
    with serve_openai(script) as url:
        settings = settings_for(**openai_llm(url))
        conversation = mnemo.Library(settings).start_conversation("WhatsApp")
        first = mnemo.ask("Who bought WhatsApp?", settings, conversation_id=conversation)
        second = mnemo.ask("And who started it?", settings, conversation_id=conversation)
    assert first.query == "Who bought WhatsApp?"
    assert second.query == "When was WhatsApp founded and by whom"
    assert "Who bought WhatsApp?" in script.requests[1]["messages"][-1]["content"]
    assert second.citations[0].verdict == "supported"
    library = mnemo.Library(settings)
    turns = library.turns(conversation)
    assert [t.question for t in turns] == ["Who bought WhatsApp?", "And who started it?"]
    assert turns[1].citations[0]["verdict"] == "supported"
    listed = {c.id: c.turns for c in library.conversations()}
    assert listed[conversation] == 2
    library.delete_conversation(conversation)
    with pytest.raises(ConversationError, match="no conversation"):
        library.turns(conversation)
    library.close()


# --- whole-document tasks -----------------------------------------------------------------


def test_whole_document_task_offline_uses_only_that_document(settings_for) -> None:
    answer = mnemo.ask("List every deadline", settings_for(), documents=["report.md"])
    assert answer.kind == "extractive"
    assert answer.citations
    assert all(c.source and c.source.path.endswith("plans/report.md") for c in answer.citations)
    assert "deadline" in answer.text.lower()


def test_whole_document_task_is_detected_from_the_question(settings_for) -> None:
    answer = mnemo.ask("Summarise report.md", settings_for())
    assert any("whole of report.md" in w for w in answer.warnings)


def test_whole_document_map_reduce_keeps_checkable_citations(settings_for) -> None:
    def notes(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        lines = []
        for number, text in re.findall(
            r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', prompt, re.DOTALL
        ):
            found = re.search(r"The deadline for work package \d is \d+ June 2027\.", text)
            if found:
                lines.append(f"{found.group(0)} [{number}]")
        return "\n".join(lines) or "Nothing relevant."

    def combine(body: dict[str, Any]) -> str:
        return body["messages"][-1]["content"].split("<notes>\n")[1].split("\n</notes>")[0]

    def model(body: dict[str, Any]) -> str:
        return combine(body) if body["messages"][0]["content"] == COMBINE else notes(body)

    script = Script(replies=[model] * 20)
    with serve_openai(script) as url:
        settings = settings_for(**openai_llm(url), answer={"context_tokens": 80})
        answer = mnemo.ask("List every deadline", settings, documents=["plans/report.md"])
    systems = [body["messages"][0]["content"] for body in script.requests]
    assert systems.count(NOTES) > 1 and systems[-1] == COMBINE  # map, then reduce
    assert answer.kind == "generated"
    assert len(answer.citations) == 5
    assert all(c.verdict == "supported" for c in answer.citations)


def test_unknown_document_is_a_clear_error(settings_for) -> None:
    with pytest.raises(QueryError, match="no indexed document of collection"):
        mnemo.ask("Summarise it", settings_for(), documents=["missing.pdf"])


# --- the command line ---------------------------------------------------------------------


def test_cli_ask_offline_shows_answer_sources_and_label(library, cli) -> None:
    env = {"MNEMO_HOME": str(library)}
    shown = cli("ask", "Who bought WhatsApp?", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Facebook acquired WhatsApp" in shown.stdout
    assert "Sources" in shown.stdout and "whatsapp.md" in shown.stdout
    assert "extractive" in shown.stdout
    as_json = json.loads(cli("ask", "Who bought WhatsApp?", "--json", env=env).stdout)
    assert as_json["kind"] == "extractive" and as_json["citations"][0]["verdict"] == "quoted"
    empty = cli("ask", " ", env=env)
    assert empty.returncode == 2 and "error: empty question" in empty.stderr
    assert "Traceback" not in empty.stderr


def test_cli_chat_saves_a_resumable_conversation(library, cli) -> None:
    env = {"MNEMO_HOME": str(library)}
    chat = cli("chat", input="What causes tides?\n\n", env=env)
    assert chat.returncode == 0, chat.stderr
    assert "Moon" in chat.stdout
    conversation = re.search(r"mnemo chat --resume ([0-9a-f]{32})", chat.stdout).group(1)
    listed = cli("conversations", "list", env=env).stdout
    assert conversation in listed and "1 turn(s)" in listed
    resumed = cli("chat", "--resume", conversation, input="", env=env)
    assert "What causes tides?" in resumed.stdout
    assert cli("conversations", "delete", conversation, env=env).returncode == 0
    gone = cli("chat", "--resume", conversation, input="", env=env)
    assert gone.returncode == 2 and "no conversation" in gone.stderr

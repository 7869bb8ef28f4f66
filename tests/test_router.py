"""The router: a chain of models tried in order, then the extractive answer.

Models are tests/llmserver.py servers; a dead model is a closed port on 127.0.0.1.
Each answer names the model that wrote it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mnemo
from llmserver import MODEL, Script, citing, serve_openai
from mnemo.config import Settings, load_settings


@pytest.fixture
def settings_for(indexed_library: Path) -> Callable[..., Settings]:
    """Settings whose [llm] is ``first`` and whose [[router.models]] are ``then``."""

    def build(first: str, *then: dict[str, Any], **sections: dict[str, Any]) -> Settings:
        llm = {"provider": "openai-compatible", "model": MODEL, "base_url": first}
        llm |= {"max_retries": 0, **sections.pop("llm", {})}
        router = {"models": list(then), **sections.pop("router", {})}
        return load_settings(indexed_library, {"llm": llm, "router": router, **sections})

    return build


def routed(url: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai-compatible", "model": MODEL, "base_url": url, **extra}


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # closed once the socket is: connections are refused


cites_whatsapp = citing("Facebook acquired WhatsApp in 2014", "whatsapp.md", "acquired")


def test_a_dead_model_falls_through_to_the_next(settings_for) -> None:
    script = Script(replies=[cites_whatsapp])
    with serve_openai(script) as url:
        settings = settings_for(dead_url(), routed(url, model=MODEL))
        answer = mnemo.ask("Who bought WhatsApp?", settings)
    assert len(script.requests) == 1
    assert answer.kind == "generated"
    assert answer.model == f"openai-compatible:{MODEL}"
    assert any(
        "failed, the next model answered" in w and "unreachable" in w for w in answer.warnings
    )


def test_every_model_dead_ends_in_an_extractive_answer(settings_for) -> None:
    settings = settings_for(dead_url(), routed(dead_url()))
    answer = mnemo.ask("Who bought WhatsApp?", settings)
    assert answer.kind == "extractive" and answer.model is None
    assert "Facebook acquired WhatsApp" in answer.text
    failed = [w for w in answer.warnings if "every model in the chain failed" in w]
    assert failed and failed[0].count("unreachable") == 2


def test_a_prompt_too_large_for_the_first_model_goes_to_the_larger_one(settings_for) -> None:
    small, large = Script(replies=["never"]), Script(replies=[cites_whatsapp])
    with serve_openai(small) as small_url, serve_openai(large) as large_url:
        settings = settings_for(
            small_url,
            routed(large_url, context_window=32768),
            llm={"context_window": 1024, "max_answer_tokens": 700},
        )
        answer = mnemo.ask("Who bought WhatsApp?", settings)
    assert small.requests == [] and len(large.requests) == 1
    assert answer.kind == "generated"
    assert any("was skipped" in w and "context_window 1,024" in w for w in answer.warnings)


def test_whole_document_tasks_go_to_the_largest_context_first(settings_for) -> None:
    def summary(body: dict[str, Any]) -> str:
        return "Work package 1 covers the requirements of the new warehouse system [1]."

    local, big = Script(replies=["never"]), Script(replies=[summary])
    with serve_openai(local) as local_url, serve_openai(big) as big_url:
        settings = settings_for(local_url, routed(big_url, model=MODEL, context_window=65536))
        answer = mnemo.ask("Summarise report.md", settings)
    assert local.requests == [] and len(big.requests) == 1
    assert "<source" in big.requests[0]["messages"][-1]["content"]
    assert answer.model == f"openai-compatible:{MODEL}"


def test_a_failing_model_is_retried_before_the_next(settings_for) -> None:
    first, second = Script(statuses=[503], replies=[cites_whatsapp]), Script(replies=["never"])
    with serve_openai(first) as first_url, serve_openai(second) as second_url:
        settings = settings_for(first_url, routed(second_url), router={"retries": 1})
        answer = mnemo.ask("Who bought WhatsApp?", settings)
    assert len(first.requests) == 2 and second.requests == []
    assert answer.kind == "generated"


def test_a_remote_fallback_gets_masked_text(settings_for) -> None:
    from test_guards import remote_host

    script = Script(replies=[cites_whatsapp])
    with serve_openai(script) as url:
        remote = url.replace("127.0.0.1", remote_host())
        # The address weakens the match: the reranker must not abstain before the model.
        settings = settings_for(dead_url(), routed(remote), answer={"min_rerank_score": -10})
        answer = mnemo.ask("Who bought WhatsApp? (asked by jane.doe@example.com)", settings)
    assert script.requests, (answer.kind, answer.warnings)
    sent = script.requests[0]["messages"][-1]["content"]
    assert "jane.doe@example.com" not in sent and "<EMAIL_ADDRESS_1>" in sent
    assert answer.masked == 1


def test_cli_says_which_model_wrote_the_answer(settings_for, indexed_library: Path, cli) -> None:
    with serve_openai(Script(replies=[cites_whatsapp])) as url:
        env = {
            "MNEMO_HOME": str(indexed_library),
            "MNEMO_LLM__PROVIDER": "openai-compatible",
            "MNEMO_LLM__MODEL": "missing-model",  # 404 from the server: the next one answers
            "MNEMO_LLM__BASE_URL": url,
            "MNEMO_LLM__MAX_RETRIES": "0",
            "MNEMO_ROUTER__MODELS": f'[{{"model": "{MODEL}", "base_url": "{url}"}}]',
        }
        result = cli("ask", "Who bought WhatsApp?", env=env)
    assert result.returncode == 0, result.stderr
    assert f"generated by openai-compatible:{MODEL}" in result.stdout
    assert "openai-compatible:missing-model failed" in result.stderr


def test_a_research_run_is_written_by_the_larger_context_model(settings_for) -> None:
    def reply(body: dict[str, Any]) -> str:
        if "<source id=" in body["messages"][-1]["content"]:
            return cites_whatsapp(body)
        return "done"  # the plan, or any other step: nothing more to do

    local, big = Script(replies=["never"] * 10), Script(model="big-model", replies=[reply] * 10)
    with serve_openai(local) as local_url, serve_openai(big) as big_url:
        settings = settings_for(local_url, routed(big_url, model="big-model", context_window=65536))
        with mnemo.Library(settings) as library:
            result = library.research("Who bought WhatsApp?")
    assert local.requests == []
    synthesised = [b for b in big.requests if "<source id=" in b["messages"][-1]["content"]]
    assert synthesised, "the synthesis went to the large-context model"
    assert result.answer.kind == "generated"
    assert result.answer.model == "openai-compatible:big-model"
    print("TRACE", result.trace)
    assert "Facebook acquired WhatsApp in 2014" in result.answer.text

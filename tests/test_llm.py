"""The LLM backends through the real OpenAI and Anthropic SDKs, against local servers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from llmserver import (
    MODEL,
    Body,
    Break,
    Script,
    pieces,
    prompt_tokens,
    serve_anthropic,
    serve_openai,
)
from mnemo.config import Settings
from mnemo.errors import ConfigError, ContextWindowError, LLMError
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, StreamPart, Usage
from mnemo.generation.providers import check, describe, load_llm

MakeSettings = Callable[..., Settings]
Connect = Callable[..., AbstractContextManager[LLM]]
Cli = Callable[..., subprocess.CompletedProcess[str]]

SERVERS: dict[str, Callable[[Script], AbstractContextManager[str]]] = {
    "openai-compatible": serve_openai,
    "anthropic": serve_anthropic,
}
# How each protocol says that the prompt does not fit.
TOO_LONG = {
    "openai-compatible": (
        400,
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens. However, you requested 9000.",
    ),
    "anthropic": (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000"),
}
REQUEST = ChatRequest(
    system="Answer from the sources only.",
    messages=[
        ChatMessage("user", "Where is the Eiffel Tower?"),
        ChatMessage("assistant", "In Paris."),
        ChatMessage("user", "How tall is it?"),
    ],
    max_tokens=64,
)


@pytest.fixture(params=list(SERVERS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(make_settings: MakeSettings, provider: str) -> Connect:
    """Start a scripted server for ``provider`` and build the LLM the settings describe."""

    @contextmanager
    def start(script: Script, **llm: object) -> Iterator[LLM]:
        with SERVERS[provider](script) as url:
            values = {"provider": provider, "model": MODEL, "base_url": url, "max_retries": 0}
            found = load_llm(make_settings(llm={"api_key": "sk-test", **values, **llm}))
            assert found is not None
            yield found

    return start


def last_question(body: Body) -> str:
    return f"You asked: {body['messages'][-1]['content']}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_complete_sends_the_conversation(connect: Connect, provider: str) -> None:
    script = Script(replies=[last_question])
    with connect(script) as llm:
        completion = llm.complete(REQUEST)
    body = script.requests[0]
    assert completion.text == "You asked: How tall is it?"
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(prompt_tokens(body), len(pieces(completion.text)))
    assert body["model"] == MODEL and body["max_tokens"] == 64 and not body.get("stream")
    turns = [(m["role"], m["content"]) for m in body["messages"]]
    conversation = [(m.role, m.content) for m in REQUEST.messages]
    if provider == "anthropic":
        assert body["system"] == REQUEST.system and turns == conversation
    else:
        assert turns == [("system", REQUEST.system), *conversation]


def test_stream_arrives_in_pieces(connect: Connect, provider: str) -> None:
    reply = "It is 330 metres tall, antenna included."
    script = Script(replies=[reply])
    with connect(script) as llm:
        parts = list(llm.stream(REQUEST))
    texts = [part.text for part in parts[:-1]]
    assert texts == pieces(reply) and "".join(texts) == reply
    usage = Usage(prompt_tokens(script.requests[0]), len(texts))
    assert parts[-1] == StreamPart(usage=usage, finish_reason="stop")
    assert script.requests[0]["stream"] is True
    if provider == "openai-compatible":
        assert script.requests[0]["stream_options"] == {"include_usage": True}


def test_empty_reply_is_not_an_error(connect: Connect) -> None:
    with connect(Script(replies=["", ""])) as llm:
        assert llm.complete(REQUEST).text == ""
        parts = list(llm.stream(REQUEST))
    assert [part.text for part in parts] == [""] and parts[-1].finish_reason == "stop"


def test_retries_a_busy_server(connect: Connect) -> None:
    script = Script(statuses=[503, 503], replies=["Back again."])
    with connect(script, max_retries=2) as llm:
        assert llm.complete(REQUEST).text == "Back again."
    assert len(script.requests) == 3


def test_rate_limit_after_retries(connect: Connect) -> None:
    script = Script(statuses=[429, 429])
    with connect(script, max_retries=1) as llm, pytest.raises(LLMError, match="rate-limit") as err:
        llm.complete(REQUEST)
    assert err.value.retryable and len(script.requests) == 2


def test_rejected_key_is_not_shown(connect: Connect) -> None:
    # The server echoes the key it got, as some do; Mnemo's message must not.
    with (
        connect(Script(key="sk-right"), api_key="sk-secret-123") as llm,
        pytest.raises(LLMError, match="rejected the API key.*MNEMO_LLM__API_KEY") as err,
    ):
        llm.complete(REQUEST)
    assert "sk-secret-123" not in str(err.value) and not err.value.retryable


def test_unknown_model(connect: Connect) -> None:
    with (
        connect(Script(), model="llama-9000") as llm,
        pytest.raises(LLMError, match="model 'llama-9000' is unknown to http://127.0.0.1"),
    ):
        llm.complete(REQUEST)


def test_unreachable_server(make_settings: MakeSettings, provider: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    values = {"provider": provider, "model": MODEL, "base_url": url, "api_key": "sk-test"}
    llm = load_llm(make_settings(llm={**values, "max_retries": 0}))
    assert llm is not None
    started = time.monotonic()
    with pytest.raises(LLMError, match=f"LLM server {url}.* is unreachable") as err:
        llm.complete(REQUEST)
    assert err.value.retryable and time.monotonic() - started < 2


def test_prompt_too_long(connect: Connect, provider: str) -> None:
    with (
        connect(Script(error=TOO_LONG[provider])) as llm,
        pytest.raises(ContextWindowError, match=f"prompt is too long for model '{MODEL}'"),
    ):
        llm.complete(REQUEST)


def test_malformed_reply(connect: Connect) -> None:
    with (
        connect(Script(malformed=True)) as llm,
        pytest.raises(LLMError, match="sent a reply Mnemo cannot read"),
    ):
        llm.complete(REQUEST)


def test_timeout(connect: Connect) -> None:
    started = time.monotonic()
    with (
        connect(Script(hang=3), timeout=0.5) as llm,
        pytest.raises(LLMError, match="did not answer in time") as err,
    ):
        llm.complete(REQUEST)
    assert err.value.retryable and time.monotonic() - started < 2.5


@pytest.mark.parametrize("how", ["drop", "end", "error", "garbage"])
def test_broken_stream_keeps_the_partial_text(connect: Connect, how: Break) -> None:
    script = Script(replies=["The tower is 330 metres tall."], stream_break=(3, how))
    received: list[str] = []
    with connect(script) as llm, pytest.raises(LLMError) as err:
        for part in llm.stream(REQUEST):
            received.append(part.text)
    assert "".join(received) == err.value.partial == "The tower is"
    assert err.value.retryable


@pytest.mark.parametrize("method", ["complete", "stream"])
def test_finish_reasons(connect: Connect, provider: str, method: str) -> None:
    cases = {
        "openai-compatible": {"stop": "stop", "length": "length", "content_filter": "refusal"},
        "anthropic": {
            "end_turn": "stop",
            "stop_sequence": "stop",
            "max_tokens": "length",
            "refusal": "refusal",
        },
    }[provider]
    for sent, expected in cases.items():
        with connect(Script(replies=["Partly"], finish_reason=sent)) as llm:
            if method == "complete":
                assert llm.complete(REQUEST).finish_reason == expected, sent
            else:
                assert list(llm.stream(REQUEST))[-1].finish_reason == expected, sent


@pytest.mark.parametrize("provider", ["openai-compatible"])
def test_openai_refusal(connect: Connect) -> None:
    with connect(Script(refusal="I can't help with that.")) as llm:
        completion = llm.complete(REQUEST)
        parts = list(llm.stream(REQUEST))
    assert (completion.text, completion.finish_reason) == ("", "refusal")
    assert parts[-1].finish_reason == "refusal"


def test_settings_choose_the_backend(
    make_settings: MakeSettings, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_llm(make_settings()) is None
    with pytest.raises(ConfigError, match="llm.model is not set"):
        load_llm(make_settings(llm={"provider": provider}))
    settings = make_settings(
        llm={"provider": provider, "model": "m1", "base_url": "http://h:1/v1", "api_key": "sk-x"}
    )
    assert describe(settings) == f"{provider} m1 at http://h:1/v1"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    llm = load_llm(make_settings(llm={"provider": provider, "model": "m1"}))
    assert llm is not None and (llm.provider, llm.model) == (provider, "m1")


def test_anthropic_needs_a_key(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(LLMError, match="set MNEMO_LLM__API_KEY or ANTHROPIC_API_KEY"):
        load_llm(make_settings(llm={"provider": "anthropic", "model": "m1"}))


def test_local_servers_need_no_key(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve_openai(Script()) as url:
        settings = make_settings(
            llm={"provider": "openai-compatible", "model": MODEL, "base_url": url}
        )
        llm = load_llm(settings)
        assert llm is not None and llm.complete(REQUEST).text == "ready"


def test_key_from_the_environment(
    make_settings: MakeSettings, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"openai-compatible": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[provider]
    monkeypatch.setenv(env, "sk-env-key")
    with SERVERS[provider](Script(key="sk-env-key")) as url:
        llm = load_llm(make_settings(llm={"provider": provider, "model": MODEL, "base_url": url}))
        assert llm is not None
        completion, seconds = check(llm)
    assert completion.text == "ready" and 0 < seconds < 5


def test_check_sends_a_tiny_request(connect: Connect) -> None:
    script = Script()
    with connect(script) as llm:
        completion, seconds = check(llm)
    assert completion.text == "ready" and seconds > 0
    body = script.requests[0]
    assert body["max_tokens"] == 16 and "Reply with the word: ready" in str(body["messages"])


def _llm_env(provider: str, url: str, **extra: str) -> dict[str, str]:
    return {
        "MNEMO_LLM__PROVIDER": provider,
        "MNEMO_LLM__MODEL": MODEL,
        "MNEMO_LLM__BASE_URL": url,
        "MNEMO_LLM__MAX_RETRIES": "0",
        "MNEMO_LLM__API_KEY": "sk-test",
        **extra,
    }


def test_cli_without_llm(cli: Cli) -> None:
    run = cli("llm", "test")
    assert run.returncode == 0 and "no LLM configured: answers are extractive" in run.stdout


def test_cli_llm_test(cli: Cli, provider: str) -> None:
    with SERVERS[provider](Script(replies=["Ready."])) as url:
        run = cli("llm", "test", env=_llm_env(provider, url))
    assert run.returncode == 0, run.stderr
    assert f"{provider} {MODEL} at {url}" in run.stdout and "reply: Ready." in run.stdout


def test_cli_llm_test_errors(cli: Cli, provider: str) -> None:
    down = cli("llm", "test", env=_llm_env(provider, f"http://127.0.0.1:{closed_port()}"))
    assert down.returncode == LLMError.exit_code
    assert down.stderr.startswith("error: LLM server") and "unreachable" in down.stderr
    assert down.stderr.count("\n") == 1 and "Traceback" not in down.stderr

    with SERVERS[provider](Script(key="sk-right")) as url:
        env = _llm_env(provider, url, MNEMO_LLM__API_KEY="sk-secret-123")
        rejected = cli("llm", "test", env=env)
    assert rejected.returncode == LLMError.exit_code and "MNEMO_LLM__API_KEY" in rejected.stderr
    assert "sk-secret-123" not in rejected.stderr + rejected.stdout

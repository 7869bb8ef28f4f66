"""The OpenAI-compatible routes, driven by the official openai SDK against a real server.

Answers are extractive (no language model) except in one test, where a scripted
local OpenAI-compatible server (tests/llmserver.py) writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from llmserver import MODEL, Script, serve_openai
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.server.auth import create_key
from serverutil import build_library, serving


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    settings = build_library(tmp_path_factory.mktemp("openai"))
    with Catalog(settings.catalog_path) as catalog:
        _, secret = create_key(catalog, "read", "chat-ui")
    return settings, secret


@pytest.fixture(scope="module")
def client(library: tuple[Settings, str]) -> Iterator[OpenAI]:
    settings, secret = library
    with serving(settings) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)


QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi! Ask me about your documents."},
    {"role": "user", "content": "When is the Falcon launch date?"},
]


def test_models_are_the_collections(client: OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["default"]
    assert models.data[0].owned_by == "mnemo"


def test_chat_completion(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="default", messages=QUESTION)  # type: ignore[arg-type]
    text = completion.choices[0].message.content or ""
    assert "12 March 2027" in text and "[1]" in text
    assert "Sources:\n[1] " in text and "falcon.md" in text
    assert completion.choices[0].finish_reason == "stop"
    extra: dict[str, Any] = completion.model_extra["mnemo"]  # type: ignore[index]
    assert extra["kind"] == "extractive"
    assert extra["citations"][0]["verdict"] == "quoted"
    assert extra["sources"][0]["path"].endswith("falcon.md")


def test_chat_completion_stream(client: OpenAI) -> None:
    stream = client.chat.completions.create(model="default", messages=QUESTION, stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "12 March 2027" in text and "Sources:" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["mnemo"]["citations"][0]["path"].endswith("falcon.md")  # type: ignore[index]
    whole = client.chat.completions.create(model="default", messages=QUESTION)  # type: ignore[arg-type]
    assert text == whole.choices[0].message.content


def test_content_parts_are_read(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": [{"type": "text", "text": "What causes tides?"}]}],
        temperature=0.2,
        max_tokens=300,
    )
    assert "Moon" in (completion.choices[0].message.content or "")


def test_errors_reach_the_sdk_as_its_exceptions(
    client: OpenAI, library: tuple[Settings, str]
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=QUESTION)  # type: ignore[arg-type]
    assert missing.value.body["code"] == "collection_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="default", messages=[{"role": "system", "content": "no question"}]
        )
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="default", messages=[])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model="default", messages=[{"role": "robot", "content": "x"}]
        )  # type: ignore[list-item]
    wrong = OpenAI(base_url=str(client.base_url), api_key="mnemo_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_stream_disconnect_keeps_serving(client: OpenAI) -> None:
    with httpx.Client(timeout=30) as raw:
        headers = {"Authorization": f"Bearer {client.api_key}"}
        body = {"model": "default", "messages": QUESTION, "stream": True}
        with raw.stream(
            "POST", f"{client.base_url}chat/completions", json=body, headers=headers
        ) as r:
            next(r.iter_bytes())
    assert client.models.list().data


def test_generated_answer_streams_through(library: tuple[Settings, str], tmp_path: Path) -> None:
    settings, secret = library

    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        number = prompt.split('<source id="')[1].split('"')[0]
        return f"Project Falcon launches on 12 March 2027 [{number}]."

    with serve_openai(Script(replies=[reply])) as llm_url:
        llm = {
            "provider": "openai-compatible",
            "model": MODEL,
            "base_url": llm_url,
            "max_retries": 0,
        }
        with_llm = load_settings(settings.home, {"ingest": {"workers": 1}, "llm": llm})
        with serving(with_llm) as url:
            client = OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
            stream = client.chat.completions.create(
                model="default",
                messages=[{"role": "user", "content": "When does Project Falcon launch?"}],
                stream=True,
            )
            chunks = list(stream)
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 3  # streamed a word at a time, then the sources
    extra = chunks[-1].model_extra["mnemo"]  # type: ignore[index]
    assert extra["kind"] == "generated"
    assert [c["verdict"] for c in extra["citations"]] == ["supported"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

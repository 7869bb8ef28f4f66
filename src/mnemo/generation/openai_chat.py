"""Any OpenAI-compatible ``/v1/chat/completions`` server: Ollama, vLLM, llama.cpp, OpenAI.

Requests go through the official ``openai`` SDK, which retries connection errors,
408/409/429 and 5xx with backoff; this module only shapes requests and replies and
turns the SDK's exceptions into :class:`~mnemo.errors.LLMError`. A content filter or
a non-empty ``refusal`` is reported as ``finish_reason="refusal"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from mnemo.generation.base import ChatRequest, Completion, StreamPart, Usage
from mnemo.generation.providers import Endpoint, sdk_error, unfinished
from mnemo.generation.tooluse import ToolCall, ToolMessage, ToolSpec, ToolTurn


class OpenAIChat:
    provider = "openai-compatible"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        import openai

        self.model = model
        key = api_key or os.environ.get("OPENAI_API_KEY")
        self._sdk = openai
        self._client = openai.OpenAI(
            base_url=base_url,  # None: OPENAI_BASE_URL, else OpenAI's own
            api_key=key or "not-needed",  # local servers need none
            timeout=timeout,
            max_retries=max_retries,
        )
        self._at = Endpoint(str(self._client.base_url).rstrip("/"), model, key)

    def complete(self, request: ChatRequest) -> Completion:
        try:
            response = self._client.chat.completions.create(**self._params(request))
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        try:
            choice = response.choices[0]
            message = choice.message
            finish = "refusal" if message.refusal else _finish(choice.finish_reason)
            return Completion(message.content or "", _usage(response.usage), finish)
        except (AttributeError, IndexError, TypeError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc

    def stream(self, request: ChatRequest) -> Iterator[StreamPart]:
        try:
            chunks = self._client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        pieces: list[str] = []
        usage, finish, refused = Usage(), None, False
        try:
            with chunks:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                            yield StreamPart(text=choice.delta.content)
                        refused = refused or bool(choice.delta.refusal)
                        finish = choice.finish_reason or finish
        except Exception as exc:
            raise sdk_error(exc, self._sdk, self._at, partial="".join(pieces)) from exc
        if finish is None:
            raise unfinished(self._at, "".join(pieces))
        yield StreamPart(usage=usage, finish_reason="refusal" if refused else _finish(finish))

    def use_tools(
        self,
        system: str,
        messages: list[ToolMessage],
        tools: list[ToolSpec],
        *,
        max_tokens: int,
        temperature: float = 0.1,
    ) -> ToolTurn:
        """One reply that may ask for tool calls (``tools`` in the chat completions API)."""
        wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        for m in messages:
            if m["role"] == "tool":
                wire += [
                    {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                    for r in m["results"]
                ]
            elif m["role"] == "assistant" and m.get("calls"):
                calls = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in m["calls"]
                ]
                wire.append(
                    {"role": "assistant", "content": m.get("content") or None, "tool_calls": calls}
                )
            else:
                wire.append({"role": m["role"], "content": m["content"]})
        params: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.schema,
                    },
                }
                for t in tools
            ]
        try:
            response = self._client.chat.completions.create(**params)
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        try:
            choice = response.choices[0]
            message = choice.message
            calls = [
                ToolCall(c.id, c.function.name, c.function.arguments or "")
                for c in (message.tool_calls or [])
                if getattr(c, "function", None) is not None
            ]
            return ToolTurn(
                message.content or "", calls, _usage(response.usage), _finish(choice.finish_reason)
            )
        except (AttributeError, IndexError, TypeError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        system = [{"role": "system", "content": request.system}] if request.system else []
        return {
            "model": self.model,
            "messages": system + [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }


def _finish(reason: str | None) -> str | None:
    return "refusal" if reason == "content_filter" else reason


def _usage(usage: Any) -> Usage:
    if usage is None:  # some servers send none
        return Usage()
    return Usage(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0)

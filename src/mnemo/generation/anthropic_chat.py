"""Anthropic's Messages API (``/v1/messages``) through the official ``anthropic`` SDK.

The SDK retries connection errors, 408/409/429 and 5xx with backoff; this module
shapes requests and replies, maps ``stop_reason`` onto the finish reasons the other
backends use ("stop", "length", "refusal") and turns the SDK's exceptions, including
an ``error`` event in the middle of a stream, into :class:`~mnemo.errors.LLMError`.
The SDK's ``messages.create`` takes no sampling temperature, so
``ChatRequest.temperature`` is not sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from mnemo.errors import LLMError
from mnemo.generation.base import ChatRequest, Completion, StreamPart, Usage
from mnemo.generation.providers import Endpoint, sdk_error, unfinished
from mnemo.generation.tooluse import ToolCall, ToolMessage, ToolSpec, ToolTurn

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "refusal",
    "tool_use": "tool_calls",
}


class AnthropicChat:
    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        import anthropic

        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMError("no API key for Anthropic: set MNEMO_LLM__API_KEY or ANTHROPIC_API_KEY")
        self.model = model
        self._sdk = anthropic
        self._client = anthropic.Anthropic(
            api_key=key,
            base_url=base_url,  # None: ANTHROPIC_BASE_URL, else Anthropic's own
            timeout=timeout,
            max_retries=max_retries,
        )
        self._at = Endpoint(str(self._client.base_url).rstrip("/"), model, key)

    def complete(self, request: ChatRequest) -> Completion:
        try:
            message = self._client.messages.create(**self._params(request))
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        try:
            text = "".join(block.text for block in message.content if block.type == "text")
            usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
            return Completion(text, usage, _finish(message.stop_reason))
        except (AttributeError, TypeError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc

    def stream(self, request: ChatRequest) -> Iterator[StreamPart]:
        try:
            events = self._client.messages.create(**self._params(request), stream=True)
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        pieces: list[str] = []
        usage, stop_reason = Usage(), None
        try:
            with events:
                for event in events:
                    if event.type == "message_start":
                        usage = Usage(event.message.usage.input_tokens, 0)
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        pieces.append(event.delta.text)
                        yield StreamPart(text=event.delta.text)
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason
                        usage.output_tokens = event.usage.output_tokens
        except Exception as exc:
            raise sdk_error(exc, self._sdk, self._at, partial="".join(pieces)) from exc
        if stop_reason is None:
            raise unfinished(self._at, "".join(pieces))
        yield StreamPart(usage=usage, finish_reason=_finish(stop_reason))

    def use_tools(
        self,
        system: str,
        messages: list[ToolMessage],
        tools: list[ToolSpec],
        *,
        max_tokens: int,
        temperature: float = 0.1,
    ) -> ToolTurn:
        """One reply that may ask for tools (Anthropic tool use: ``tool_use`` blocks)."""
        wire: list[dict[str, Any]] = []
        for m in messages:
            if m["role"] == "tool":
                wire.append(
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": r.call_id,
                                "content": r.content,
                                "is_error": r.is_error,
                            }
                            for r in m["results"]
                        ],
                    }
                )
            elif m["role"] == "assistant" and m.get("calls"):
                blocks: list[dict[str, Any]] = (
                    [{"type": "text", "text": m["content"]}] if m.get("content") else []
                )
                for c in m["calls"]:
                    try:
                        given = json.loads(c.arguments or "{}")
                    except ValueError:
                        given = {}
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": c.id,
                            "name": c.name,
                            "input": given if isinstance(given, dict) else {},
                        }
                    )
                wire.append({"role": "assistant", "content": blocks})
            else:
                wire.append({"role": m["role"], "content": m["content"]})
        params: dict[str, Any] = {"model": self.model, "messages": wire, "max_tokens": max_tokens}
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.schema}
                for t in tools
            ]
        try:
            message = self._client.messages.create(**params)
        except (self._sdk.APIError, ValueError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc
        try:
            text = "".join(b.text for b in message.content if b.type == "text")
            calls = [
                ToolCall(b.id, b.name, json.dumps(b.input))
                for b in message.content
                if b.type == "tool_use"
            ]
            usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
            return ToolTurn(text, calls, usage, _finish(message.stop_reason))
        except (AttributeError, TypeError) as exc:
            raise sdk_error(exc, self._sdk, self._at) from exc

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
        }
        if request.system:
            params["system"] = request.system
        return params


def _finish(stop_reason: str | None) -> str | None:
    return _FINISH.get(stop_reason, stop_reason) if stop_reason else None

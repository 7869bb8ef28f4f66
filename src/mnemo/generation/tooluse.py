"""Tool use, the same for every provider: tools offered, calls asked for, results sent back.

A :class:`ToolTurn` is one model reply: its text and the tool calls it asks for.
The conversation is kept in a provider-neutral list of :data:`ToolMessage` dicts,
which each provider module turns into its own wire format:

- ``{"role": "user", "content": str}``
- ``{"role": "assistant", "content": str, "calls": [ToolCall, ...]}``
- ``{"role": "tool", "results": [ToolResult, ...]}``

Arguments stay the raw JSON text the model wrote: checking them (and telling the
model what is wrong) is the caller's job, not the transport's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from mnemo.generation.base import Usage

ToolMessage = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    schema: dict[str, Any]  # JSON Schema of the arguments object


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text, as the model wrote it

    def parsed(self) -> Any:
        """The arguments as JSON; ValueError when they are not JSON."""
        return json.loads(self.arguments or "{}")


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass
class ToolTurn:
    text: str
    calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


class ToolUser(Protocol):
    """A provider that can offer tools (OpenAI-compatible tools, Anthropic tool use)."""

    provider: str
    model: str

    def use_tools(
        self,
        system: str,
        messages: list[ToolMessage],
        tools: list[ToolSpec],
        *,
        max_tokens: int,
        temperature: float = 0.1,
    ) -> ToolTurn: ...


def can_use_tools(llm: object) -> bool:
    return callable(getattr(llm, "use_tools", None))

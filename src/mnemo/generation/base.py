"""The language-model interface: a system prompt and messages in, text out.

Providers (one module each, registered in :mod:`mnemo.generation.providers`)
turn their SDK's exceptions into :class:`~mnemo.errors.LLMError` with a one-line
message that names the server and the model and says what to do. Keys never
appear in messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens


@dataclass(frozen=True)
class ChatRequest:
    system: str
    messages: list[ChatMessage]
    max_tokens: int
    temperature: float = 0.1


@dataclass(frozen=True)
class StreamPart:
    """One piece of a streamed reply: text, and at the end usage and why it stopped."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None  # "provider:model" that wrote it, when a router chose
    notes: tuple[str, ...] = ()  # what the guards and the router did, for the answer's warnings
    masked: int = 0  # personal values masked in the request (guard.pii = mask)


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None  # "stop", "length", "refusal", ... as the provider says
    model: str | None = None  # "provider:model" that wrote it, when a router chose
    notes: list[str] = field(default_factory=list)  # what the guards and the router did
    masked: int = 0  # personal values masked in the request (guard.pii = mask)


class LLM(Protocol):
    provider: str
    model: str

    def complete(self, request: ChatRequest) -> Completion:
        """The whole reply at once."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[StreamPart]:
        """The reply as it is written; raises LLMError (with ``partial``) if it breaks off."""
        ...


def collect(parts: Iterator[StreamPart], on_text: object = None) -> Completion:
    """Drain a stream into a Completion, passing each text piece to ``on_text``."""
    pieces: list[str] = []
    result = Completion(text="")
    for part in parts:
        if part.text:
            pieces.append(part.text)
            if callable(on_text):
                on_text(part.text)
        if part.usage is not None:
            result.usage = part.usage
        if part.finish_reason is not None:
            result.finish_reason = part.finish_reason
        if part.model is not None:
            result.model = part.model
        result.notes += part.notes
        result.masked += part.masked
    result.text = "".join(pieces)
    return result

"""A remote model behind the personal-data guard (``guard.pii``).

:class:`PrivacyGuard` wraps an :class:`~mnemo.generation.base.LLM` whose server is not
local. Every request's system prompt and messages are checked before anything is
sent: with ``mask``, personal values become placeholders and the reply (whole or
streamed) gets them back, here, before anyone sees it; with ``block``, nothing is sent
and an :class:`~mnemo.errors.LLMError` says why, so the router tries the next model
or the answer is extractive. A note on the reply says what was masked (kinds and
counts, never the values).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from mnemo.errors import LLMError
from mnemo.generation import pii
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Completion, StreamPart

if TYPE_CHECKING:
    from mnemo.config.production import GuardSettings


class PrivacyGuard:
    def __init__(
        self,
        inner: LLM,
        mode: Literal["mask", "block"],
        guard: GuardSettings,
        where: str,
    ) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        self.mode = mode
        self.guard = guard
        self.where = where  # the URL, for messages

    def complete(self, request: ChatRequest) -> Completion:
        masked, sent = self._prepare(request)
        reply = self.inner.complete(sent)
        reply.text = masked.unmask(reply.text)
        reply.notes = [*self._notes(masked), *reply.notes]
        reply.masked += masked.count
        return reply

    def stream(self, request: ChatRequest) -> Iterator[StreamPart]:
        masked, sent = self._prepare(request)
        unmasker = pii.Unmasker(masked)
        try:
            for part in self.inner.stream(sent):
                text = unmasker.feed(part.text) if part.text else ""
                if part.finish_reason is not None or part.usage is not None:
                    text += unmasker.flush()
                    notes = (*self._notes(masked), *part.notes)
                    yield replace(part, text=text, notes=notes, masked=masked.count)
                elif text:
                    yield replace(part, text=text)
        except LLMError as exc:
            exc.partial = masked.unmask(exc.partial)
            raise

    def _prepare(self, request: ChatRequest) -> tuple[pii.Masked, ChatRequest]:
        texts = [request.system, *(m.content for m in request.messages)]
        masked = pii.detector(self.guard.pii_entities, self.guard.pii_min_score).mask(texts)
        if masked.count and self.mode == "block":
            raise LLMError(
                f"personal data in the question or its sources ({pii.describe(masked.kinds())}) "
                f"and guard.pii = block: nothing was sent to {self.where}"
            )
        system, *contents = masked.texts
        messages = [ChatMessage(m.role, c) for m, c in zip(request.messages, contents, strict=True)]
        return masked, replace(request, system=system, messages=messages)

    def _notes(self, masked: pii.Masked) -> list[str]:
        if not masked.count:
            return []
        return [f"masked before sending to {self.where}: {pii.describe(masked.kinds())}"]

"""What an ask's root span records about its answer (see :mod:`mnemo.tracing`).

The question is recorded as asked, except when personal data was masked on its way
to a remote model: then it is recorded masked too, so a value that never left the
machine does not sit in the traces either. The answer's text is not recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mnemo.generation.types import Answer

if TYPE_CHECKING:
    from mnemo.config import Settings


def record(span: Any, settings: Settings, answer: Answer) -> None:
    if not settings.traces.enabled:
        return
    question = answer.question
    if answer.masked or settings.guard.pii != "off" and _guarded(settings):
        from mnemo.generation import pii

        guard = settings.guard
        question = pii.detector(guard.pii_entities, guard.pii_min_score).mask([question]).texts[0]
    embedder = settings.embedding.model or settings.embedding.backend
    attributes: dict[str, Any] = {
        "mnemo.question": question[:500],
        "mnemo.kind": answer.kind,
        "mnemo.model": answer.model or "",
        "mnemo.embedder": embedder,
        "mnemo.citations": len(answer.citations),
        "mnemo.unsupported_citations": len(answer.unsupported),
        "mnemo.sources": len(answer.sources),
        "mnemo.warnings": len(answer.warnings),
        "mnemo.injections": len(answer.injections),
        "mnemo.pii_masked": answer.masked,
        "mnemo.tokens.input": answer.usage.input_tokens,
        "mnemo.tokens.output": answer.usage.output_tokens,
    }
    for stage, seconds in answer.seconds.items():
        attributes[f"mnemo.seconds.{stage}"] = round(seconds, 4)
    span.set_attributes(attributes)


def _guarded(settings: Settings) -> bool:
    """Whether any model in the chain is remote (so its questions are masked)."""
    from mnemo.generation.locality import is_local, model_url

    configs = (
        [settings.llm, *settings.router.models]
        if settings.llm.provider != "none"
        else list(settings.router.models)
    )
    return any(
        not is_local(model_url(c.provider, c.base_url), settings.guard.local_hosts) for c in configs
    )

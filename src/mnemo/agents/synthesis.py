"""Synthesis and verification: one answer with numbered citations across all parts.

Offline, each answered part is answered extractively (the best sentences of its
passages, quoted and cited), and the numbers are shifted so that they run on
across parts; a comparison becomes a table with one row per subject. With a
model, one call writes the answer from all the passages (no tools offered), then
every citation is checked (:func:`mnemo.generation.citations.verify`): a
sentence that cites nothing, or cites a passage that does not support it, is
revised once with its passages, then removed and reported if still unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mnemo.config import Settings
from mnemo.errors import LLMError
from mnemo.generation import citations, extractive
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Usage
from mnemo.generation.prompts import sources_block
from mnemo.generation.sentences import split_sentences
from mnemo.generation.types import Citation
from mnemo.retrieval.context import ContextPassage

NOT_ANSWERED = "The documents do not answer this."
_MARK = re.compile(r"\[(\d{1,3})\]")
_MEMORY = re.compile(r"\[M\d+\]")


@dataclass
class Written:
    text: str
    citations: list[Citation]
    sources: list[ContextPassage]
    warnings: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model_calls: int = 0


def extractive_answer(
    settings: Settings,
    parts: Sequence[tuple[str, list[ContextPassage], bool]],
    *,
    subjects: Sequence[str] = (),
) -> Written:
    """Per part (question, passages, answered): its best quotes, numbered across parts."""
    warnings: list[str] = []
    reranker = extractive.quote_reranker(settings, warnings)
    count = settings.answer.extractive_sentences
    sources: list[ContextPassage] = []
    cites: list[Citation] = []
    sections: list[tuple[str, str]] = []
    by_chunks: dict[tuple[str, ...], int] = {}
    for question, passages, answered in parts:
        if not answered or not passages:
            sections.append((question, NOT_ANSWERED))
            continue
        numbered = [replace(p, number=i) for i, p in enumerate(passages, 1)]
        text, found, local = extractive.extract(question, numbered, count, reranker=reranker)
        if not found:
            sections.append((question, NOT_ANSWERED))
            continue
        shift: dict[int, int] = {}
        for source in local:
            if not any(c.number == source.number for c in found):
                continue  # only cited passages are listed, so numbers stay short
            key = tuple(source.chunk_ids)
            if key not in by_chunks:
                by_chunks[key] = len(sources) + 1
                sources.append(replace(source, number=by_chunks[key]))
            shift[source.number] = by_chunks[key]
        text = _MARK.sub(lambda m: f"[{shift.get(int(m.group(1)), int(m.group(1)))}]", text)  # noqa: B023
        for c in found:
            number = shift[c.number]
            cites.append(replace(c, number=number, source=sources[number - 1]))
        sections.append((question, text))
    return Written(_layout(sections, subjects), cites, sources, warnings)


def _layout(sections: list[tuple[str, str]], subjects: Sequence[str]) -> str:
    if len(sections) == 1:
        return sections[0][1]
    if subjects and len(subjects) == len(sections):
        rows = ["| | What the documents say |", "| --- | --- |"]
        for subject, (_, text) in zip(subjects, sections, strict=True):
            rows.append(f"| {subject} | {' '.join(text.split()).replace('|', '/')} |")
        return "\n".join(rows)
    return "\n\n".join(f"**{q}**\n{text}" for q, text in sections)


def verify_generated(
    settings: Settings,
    llm: LLM | None,
    text: str,
    sources: list[ContextPassage],
    *,
    allow_revision: bool,
) -> Written:
    """Check every citation; revise an unsupported or uncited claim once, then remove it."""
    warnings: list[str] = []
    usage = Usage()
    calls = 0
    checked, cites = citations.verify(text, sources, None, settings.answer.min_support)
    by_number = {s.number: s for s in sources}
    kept: list[str] = []
    removed: list[str] = []
    for sentence in split_sentences(checked):
        raw = sentence.text
        plain = " ".join(citations.MARKER.sub("", raw).split())
        if not plain or _exempt(raw, plain):
            kept.append(raw)
            continue
        verdicts = [c for c in cites if c.sentence == plain and c.source is not None]
        if verdicts and all(c.verdict == "supported" for c in verdicts):
            kept.append(raw)
            continue
        fixed = None
        if allow_revision and llm is not None and verdicts:
            cited = [by_number[c.number] for c in verdicts]
            try:
                reply = llm.complete(_revision(settings, plain, cited))
                usage.add(reply.usage)
                calls += 1
                fixed = reply.text.strip()
            except LLMError as exc:
                warnings.append(f"could not revise a claim: {exc}")
            if fixed and "REMOVE" not in fixed:
                again, more = citations.verify(fixed, sources, None, settings.answer.min_support)
                valid = [c for c in more if c.source is not None]
                if valid and all(c.verdict == "supported" for c in valid):
                    kept.append(again)
                    warnings.append(f"revised a claim its source did not support: {plain!r}")
                    continue
        removed.append(plain)
    if removed:
        warnings.append(
            f"removed {len(removed)} sentence(s) no cited source supports: "
            + "; ".join(repr(r) for r in removed)
        )
    final = " ".join(kept)
    final_text, final_cites = citations.verify(final, sources, None, settings.answer.min_support)
    return Written(final_text, final_cites, sources, warnings, usage, calls)


def _exempt(raw: str, plain: str) -> bool:
    """Sentences that claim nothing from the documents: a not-answered note, a memory."""
    lowered = plain.lower()
    return (
        bool(_MEMORY.search(raw))
        or "do not answer" in lowered
        or "do not say" in lowered
        or plain.startswith("|")
    )


def _revision(settings: Settings, sentence: str, cited: list[ContextPassage]) -> ChatRequest:
    from mnemo.agents.prompts import REVISE

    body = f"Sources:\n\n{sources_block(cited)}\n\nSentence: {sentence}\n\nRewritten:"
    return ChatRequest(REVISE, [ChatMessage("user", body)], settings.llm.max_answer_tokens, 0.0)

"""Answer a question from a collection: retrieve, decide, write, check.

1. In a conversation, a follow-up is made to stand alone first
   (:mod:`mnemo.generation.followup`: rewritten by the language model, or,
   without one, given the previous question's content words).
2. Hybrid search finds the passages, and the cross-encoder reorders the best of
   them (``answer.rerank``). When none is close enough to the question (the
   reranker's score under ``answer.min_rerank_score``; without reranking, dense
   similarity under ``answer.min_relevance``), Mnemo abstains and shows the
   nearest passages instead of letting anything guess.
3. The passages are assembled within the token budget and numbered.
4. With a language model, it writes the answer from the fenced sources, streamed
   to ``on_text``; every citation is then verified. If the model fails (down,
   malformed, empty, refusing, out of context after one retry with less), the
   answer falls back to extractive and says why. Without one, the answer is
   extractive: the best sentences, quoted and cited.

Whole-document tasks (``documents``, or a question naming a file and asking for
a summary, a list or a comparison) skip step 2 and use every chunk of the
documents (:mod:`mnemo.generation.documents`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mnemo import tracing
from mnemo.catalog import Catalog, Collection, Document
from mnemo.catalog.collections import get_collection
from mnemo.config import Settings
from mnemo.errors import ContextWindowError, LLMError, MnemoError, QueryError
from mnemo.generation import citations, conversations, extractive, followup, injection, prompts
from mnemo.generation import documents as doc_tasks
from mnemo.generation.base import LLM, ChatRequest, Completion, Usage, collect
from mnemo.generation.types import Answer
from mnemo.retrieval.context import ContextPassage, assemble_context
from mnemo.retrieval.filters import Filters

if TYPE_CHECKING:
    from mnemo.embeddings import Embedder
    from mnemo.retrieval.rerank import Reranker

ABSTAIN = "The documents do not answer this question."
_NOT_IN_SOURCES = ("documents do not say", "sources do not", "do not contain", "no information")
_PROMPT_OVERHEAD = 400  # system prompt and source fences, in tokens
_EXTRACTIVE_BUDGET = 2000
_NEAREST = 3

TextHandler = Callable[[str], None]


@dataclass
class _Run:
    """What one ask() call has found so far."""

    settings: Settings
    catalog: Catalog
    collection: Collection
    question: str
    llm: LLM | None
    on_text: TextHandler | None
    query: str = ""  # what is searched and quoted against: the question, or its standalone form
    warnings: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    seconds: dict[str, float] = field(default_factory=dict)
    injections: list[injection.Flag] | None = None  # once the passages are screened
    masked: int = 0
    relevance: tuple[str, float] | None = None  # (scale, the best passage's score)
    check_quotes: bool = False  # answer.quote_check applies (answers from reranked search)
    found: list[extractive.Candidate] | None = None  # quotes scored by the check, best first
    _embedder: Embedder | None = None
    _embedder_loaded: bool = False

    def reranker(self) -> Reranker | None:
        """The cross-encoder that scores quotes, when answers rerank; None otherwise."""
        return extractive.quote_reranker(self.settings, self.warnings)

    def embedder(self) -> Embedder | None:
        """The collection's embedder, or None (with a warning) when it has none or is broken."""
        if not self._embedder_loaded:
            from mnemo.embeddings.resolve import active_embedder

            self._embedder_loaded = True
            try:
                self._embedder = active_embedder(self.settings, self.catalog, self.collection.id)
            except MnemoError as exc:
                self.warnings.append(f"similarity checks use words only: {exc}")
        return self._embedder


def ask(
    question: str,
    settings: Settings,
    catalog: Catalog,
    llm: LLM | None,
    *,
    collection: str | None = None,
    documents: Sequence[str] = (),
    filters: Filters | None = None,
    mode: str | None = None,
    conversation_id: str | None = None,
    history: followup.History = (),
    on_text: TextHandler | None = None,
) -> Answer:
    """Answer ``question`` from a collection; see the module docstring.

    ``llm`` writes the answer; None answers extractively. A follow-up is read in
    the context of the conversation's earlier turns, or of ``history`` (earlier
    (question, answer) pairs a client kept) when there is no ``conversation_id``.
    The whole ask is one trace (:mod:`mnemo.tracing`).
    """
    from mnemo.generation.trace_answer import record

    attributes = {"mnemo.collection": collection or settings.collection}
    with tracing.span(settings, "ask", attributes) as root:
        answer = _ask(
            question,
            settings,
            catalog,
            llm,
            collection=collection,
            documents=documents,
            filters=filters,
            mode=mode,
            conversation_id=conversation_id,
            history=history,
            on_text=on_text,
        )
        record(root, settings, answer)
    return answer


def _ask(
    question: str,
    settings: Settings,
    catalog: Catalog,
    llm: LLM | None,
    *,
    collection: str | None,
    documents: Sequence[str],
    filters: Filters | None,
    mode: str | None,
    conversation_id: str | None,
    history: followup.History,
    on_text: TextHandler | None,
) -> Answer:
    started = time.perf_counter()
    text = " ".join(question.split())
    if not text:
        raise QueryError("empty question: ask something about your documents")
    with catalog.session(readonly=True) as session:
        coll = get_collection(session, collection or settings.collection)
    run = _Run(settings, catalog, coll, text, llm, on_text, query=text)
    _check_length(run)
    if conversation_id:
        turns = conversations.history(catalog, conversation_id)
        history = [(t.query or t.question, t.answer) for t in turns]
    resolved = followup.standalone(text, history, llm)
    run.usage.add(resolved.usage)
    run.warnings += resolved.warnings
    query = run.query = resolved.query
    targets = (
        doc_tasks.resolve(catalog, coll, documents)
        if documents
        else doc_tasks.detect(catalog, coll, text)
    )
    if targets:
        answer = _over_documents(run, targets)
    else:
        answer = _over_search(run, query, filters, mode)
    answer.query = query
    answer.warnings = run.warnings + answer.warnings
    answer.usage = run.usage
    answer.seconds = {**run.seconds, "total": time.perf_counter() - started}
    answer.injections = [f.describe() for f in run.injections or []]
    answer.masked = run.masked
    answer.trace_id = tracing.current_trace_id()
    if run.relevance is not None:
        tracing.annotate(relevance_scale=run.relevance[0], relevance=run.relevance[1])
    if conversation_id:
        answer.turn = conversations.record(catalog, conversation_id, answer)
        answer.conversation_id = conversation_id
    return answer


def _check_length(run: _Run) -> None:
    if run.llm is None:
        return
    window = getattr(run.llm, "largest_window", None) or run.settings.llm.context_window
    budget = window - run.settings.llm.max_answer_tokens - _PROMPT_OVERHEAD
    tokens = _count_tokens(run.settings, run.question)
    if tokens > budget // 2:
        raise QueryError(
            f"the question is {tokens:,} tokens, too long for llm.context_window "
            f"{window:,} (at most {budget // 2:,}); shorten it"
        )


def _over_search(run: _Run, query: str, filters: Filters | None, mode: str | None) -> Answer:
    from mnemo.retrieval.search import search

    settings = run.settings
    begun = time.perf_counter()
    with tracing.span(settings, "retrieve"):
        response = search(
            query,
            settings,
            run.catalog,
            collection=run.collection.name,
            k=settings.answer.passages,
            mode=mode,  # type: ignore[arg-type]
            filters=filters,
            rerank=settings.answer.rerank,
        )
        run.warnings += response.warnings
        hits = response.hits
        budget = _budget(run)
        passages = assemble_context(
            run.catalog,
            hits,
            max_tokens=budget,
            neighbours=settings.answer.neighbours,
            collection=run.collection.name,
        )
        tracing.annotate(hits=len(hits), passages=len(passages), mode=response.mode)
    run.seconds["retrieve"] = time.perf_counter() - begun
    if not passages:
        return _abstain(run, [], "no passage matches the question")
    reranked = [h.scores["rerank"] for h in hits if "rerank" in h.scores]
    dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
    if "rerank" in response.used and reranked:
        run.relevance = ("rerank", max(reranked))
    elif "dense" in response.used and dense:
        run.relevance = ("dense", max(dense))
    if "rerank" in response.used and reranked:
        # The reranker read the question and each passage together: its score is
        # the better judge of relevance (docs/benchmarks.md), so it decides alone.
        if max(reranked) < settings.answer.min_rerank_score:
            return _abstain(
                run,
                passages[:_NEAREST],
                f"the best passage's reranker score {max(reranked):.2f} is under "
                f"answer.min_rerank_score {settings.answer.min_rerank_score:.2f}",
            )
        run.check_quotes = True
        return _answer(run, passages)
    if "dense" in response.used and dense and max(dense) < settings.answer.min_relevance:
        return _abstain(
            run,
            passages[:_NEAREST],
            f"the closest passage's similarity {max(dense):.2f} is under "
            f"answer.min_relevance {settings.answer.min_relevance:.2f}",
        )
    if "dense" not in response.used:
        run.warnings.append("relevance could not be checked without dense search")
    return _answer(run, passages)


def _over_documents(run: _Run, targets: list[Document]) -> Answer:
    begun = time.perf_counter()
    largest_first = getattr(run.llm, "largest_first", None)
    if run.settings.router.documents_to_largest and callable(largest_first):
        run.llm = largest_first()  # whole documents: the largest context first
    budget = _budget(run)
    passages = doc_tasks.passages(run.catalog, targets, budget)
    run.seconds["retrieve"] = time.perf_counter() - begun
    names = ", ".join(d.path.rsplit("/", 1)[-1] for d in targets)
    run.warnings.append(f"answered over the whole of {names} ({len(passages)} passages)")
    if not passages:
        return _abstain(run, [], "the documents have no text")
    if run.llm is None:
        return _digest(run, passages)
    if sum(p.tokens for p in passages) <= budget:
        return _answer(run, passages)
    return _map_reduce(run, passages, budget)


def _screen(run: _Run, passages: list[ContextPassage]) -> None:
    """Flag passages that read as instructions to a model (guard.injection)."""
    if run.injections is not None or run.settings.guard.injection == "off":
        return
    run.injections = injection.scan(passages)
    for flag in run.injections:
        run.warnings.append(f"a passage reads as instructions to a model: {flag.describe()}")
    if run.injections:
        tracing.annotate(injections=len(run.injections))


def _answer(run: _Run, passages: list[ContextPassage]) -> Answer:
    _screen(run, passages)
    refused = _check_quotes(run, passages)
    if refused is not None:
        return refused
    if run.llm is not None:
        try:
            return _generate(run, passages)
        except LLMError as exc:
            partial = f" after {len(exc.partial)} characters" if exc.partial else ""
            run.warnings.append(f"the language model failed{partial}: {exc}; answer is extractive")
    return _extract(run, passages)


def _generate(run: _Run, passages: list[ContextPassage]) -> Answer:
    begun = time.perf_counter()
    with tracing.span(run.settings, "generate"):
        reply, shown = _generate_fitting(run, passages)
    run.seconds["generate"] = time.perf_counter() - begun
    return _checked(run, reply, shown)


def _generate_fitting(
    run: _Run, passages: list[ContextPassage]
) -> tuple[Completion, list[ContextPassage]]:
    """The reply, and the sources it was written from (fewer after a context retry)."""
    assert run.llm is not None
    cfg = run.settings.llm
    shown = passages
    while True:
        request = ChatRequest(
            prompts.SYSTEM,
            [prompts.answer_message(run.question, shown)],
            max_tokens=cfg.max_answer_tokens,
            temperature=cfg.temperature,
        )
        try:
            reply = _call(run, request)
            break
        except ContextWindowError:
            if len(shown) == 1:
                raise
            shown = shown[: len(shown) // 2]
            run.warnings.append(
                f"the model's context was too small: retried with {len(shown)} sources"
            )
    return reply, shown


def _map_reduce(run: _Run, passages: list[ContextPassage], budget: int) -> Answer:
    assert run.llm is not None
    _screen(run, passages)
    begun = time.perf_counter()
    try:
        with tracing.span(run.settings, "generate"):
            reply = _notes_then_combine(run, passages, budget)
    except LLMError as exc:
        run.warnings.append(f"the language model failed: {exc}; answer is extractive")
        return _extract(run, passages)
    if reply is None:
        return _abstain(run, passages[:_NEAREST], "no part of the documents is relevant")
    run.seconds["generate"] = time.perf_counter() - begun
    return _checked(run, reply, passages)


def _notes_then_combine(
    run: _Run, passages: list[ContextPassage], budget: int
) -> Completion | None:
    """Notes on each batch of passages, combined into one answer; None when no batch
    has anything relevant."""
    assert run.llm is not None
    cfg = run.settings.llm
    notes: list[str] = []
    for batch in doc_tasks.batches(passages, budget):
        request = ChatRequest(
            prompts.NOTES,
            [prompts.notes_message(run.question, batch)],
            max_tokens=cfg.max_answer_tokens,
            temperature=cfg.temperature,
        )
        reply = run.llm.complete(request)
        _absorb(run, reply)
        if reply.text.strip() and "nothing relevant" not in reply.text.lower():
            notes.append(reply.text.strip())
    if not notes:
        return None
    request = ChatRequest(
        prompts.COMBINE,
        [prompts.combine_message(run.question, notes)],
        max_tokens=cfg.max_answer_tokens,
        temperature=cfg.temperature,
    )
    return _call(run, request)


def _call(run: _Run, request: ChatRequest) -> Completion:
    """One model call, streamed to ``on_text`` when there is one; empty replies are errors.
    Streamed, the time to the first piece of text is ``seconds["first_token"]``."""
    assert run.llm is not None
    begun = time.perf_counter()
    if run.on_text is not None:
        on_text = run.on_text

        def timed(text: str) -> None:
            run.seconds.setdefault("first_token", time.perf_counter() - begun)
            on_text(text)

        reply = collect(run.llm.stream(request), timed)
    else:
        reply = run.llm.complete(request)
    _absorb(run, reply)
    if reply.finish_reason == "refusal":
        raise LLMError(f"the model refused to answer ({reply.text.strip()[:120] or 'no reason'})")
    if not reply.text.strip():
        raise LLMError("the model sent an empty answer")
    return reply


def _absorb(run: _Run, reply: Completion) -> None:
    """What a reply says beyond its text: tokens used, what the guards and router did."""
    run.usage.add(reply.usage)
    run.masked += reply.masked
    run.warnings += [n for n in reply.notes if n not in run.warnings]


def _checked(run: _Run, reply: Completion, passages: list[ContextPassage]) -> Answer:
    begun = time.perf_counter()
    with tracing.span(run.settings, "verify"):
        text, cites = citations.verify(
            reply.text.strip(), passages, run.embedder(), run.settings.answer.min_support
        )
        why = injection.obeyed(reply.text, run.injections or [], run.question, prompts.SYSTEM)
        tracing.annotate(citations=len(cites), obeyed_injection=why)
    run.seconds["verify"] = time.perf_counter() - begun
    if why is not None and run.settings.guard.injection == "withhold":
        run.warnings.append(
            f"the model's answer was withheld: {why}; the answer is extractive instead"
        )
        return _extract(run, passages)
    warnings = []
    invalid = sorted({c.number for c in cites if c.verdict == "invalid"})
    if invalid:
        listed = ", ".join(f"[{n}]" for n in invalid)
        warnings.append(f"removed citation(s) {listed}: no such source was given")
    unsupported = [c for c in cites if c.verdict == "unsupported"]
    if unsupported:
        warnings.append(f"{len(unsupported)} citation(s) are not supported by the passage cited")
    if reply.finish_reason == "length":
        warnings.append("the answer was cut at llm.max_answer_tokens")
    valid = [c for c in cites if c.source is not None]
    lowered = text.lower()
    if not valid and any(phrase in lowered for phrase in _NOT_IN_SOURCES):
        kind = "abstained"
    elif why is not None:
        kind = "unverified"
        warnings.append(
            f"unverified: the model's answer may follow a document's instruction: {why}"
        )
    elif not valid:
        kind = "unverified"
        warnings.append("unverified: the answer cites no source, so nothing in it is checked")
    else:
        kind = "generated"
    llm = run.llm
    return Answer(
        question=run.question,
        text=text,
        kind=kind,  # type: ignore[arg-type]
        citations=cites,
        sources=passages,
        model=reply.model or (f"{llm.provider}:{llm.model}" if llm else None),
        warnings=warnings,
    )


def _check_quotes(run: _Run, passages: list[ContextPassage]) -> Answer | None:
    """An abstention when no quote of the passages answers the question
    (:mod:`mnemo.generation.answerable`, ``answer.quote_check``); None to go on."""
    mode = run.settings.answer.quote_check
    if not run.check_quotes or mode == "off" or (mode == "extractive" and run.llm is not None):
        return None
    reranker = run.reranker()
    if reranker is None:
        return None
    from mnemo.generation.answerable import answering

    readable = injection.defang(passages, run.injections) if run.injections else passages
    begun = time.perf_counter()
    found = extractive.candidates(run.query, readable, reranker, None)
    best, why = answering(run.query, found, run.settings.answer.min_quote_score)
    run.seconds["check"] = time.perf_counter() - begun
    if best is None:
        return _abstain(run, passages[:_NEAREST], why)
    run.found = [best, *(c for c in found if c is not best)]  # the quote that fits first
    return None


def _extract(run: _Run, passages: list[ContextPassage]) -> Answer:
    _screen(run, passages)
    if run.injections:  # quote the documents, never the instructions planted in them
        passages = injection.defang(passages, run.injections)
    begun = time.perf_counter()
    count = run.settings.answer.extractive_sentences
    with tracing.span(run.settings, "extract"):
        reranker = run.reranker()
        text, cites, sources = extractive.extract(
            run.query,
            passages,
            count,
            reranker=reranker,
            embedder=None if reranker is not None else run.embedder(),
            found=run.found,
        )
    run.seconds["extract"] = time.perf_counter() - begun
    if not cites:
        return _abstain(run, passages[:_NEAREST], "no sentence of the passages fits")
    return Answer(
        question=run.question, text=text, kind="extractive", citations=cites, sources=sources
    )


def _digest(run: _Run, passages: list[ContextPassage]) -> Answer:
    """Offline, a whole document: representative sentences of it, in order."""
    from mnemo.generation.digest import summarize

    _screen(run, passages)
    begun = time.perf_counter()
    count = run.settings.answer.extractive_sentences
    text, cites, sources = summarize(run.query, passages, run.embedder(), count)
    run.seconds["extract"] = time.perf_counter() - begun
    if not cites:
        return _abstain(run, passages[:_NEAREST], "no sentence of the documents can be quoted")
    return Answer(
        question=run.question, text=text, kind="extractive", citations=cites, sources=sources
    )


def _abstain(run: _Run, nearest: list[ContextPassage], why: str) -> Answer:
    return Answer(
        question=run.question,
        text=ABSTAIN,
        kind="abstained",
        citations=[],
        sources=nearest,
        warnings=[why],
    )


def _budget(run: _Run) -> int:
    settings = run.settings
    if settings.answer.context_tokens is not None:
        return settings.answer.context_tokens
    if run.llm is None:
        return _EXTRACTIVE_BUDGET
    cfg = settings.llm
    window = getattr(run.llm, "context_window", None) or cfg.context_window  # a router's first
    question = _count_tokens(settings, run.question)
    return max(256, window - cfg.max_answer_tokens - _PROMPT_OVERHEAD - question)


def _count_tokens(settings: Settings, text: str) -> int:
    from mnemo.chunking.tokenizer import load_tokenizer

    try:
        tokenizer = load_tokenizer(settings.chunking.tokenizer)
    except MnemoError:
        return len(text) // 3 + 1
    return len(tokenizer.encode(text, add_special_tokens=False).ids)

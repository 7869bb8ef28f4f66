"""The research graph (LangGraph): plan → retrieve → grade ⇄ retrieve → synthesise → verify.

State is plain data (dicts and lists), checkpointed after every step in
``<home>/research.sqlite`` (beside the catalog) under the run's id, so a run
that was interrupted, or paused with ``interrupt_after``, resumes where it
stopped. Budgets (``research.max_steps``, ``max_tokens``, ``max_seconds``) are
checked before every tool or model call; when one runs out the run goes
straight to synthesis with what it found, and says so. Every step is traced
as a :class:`~mnemo.agents.types.ResearchEvent`, sent to ``on_event`` as it
happens and kept in the state.
"""

from __future__ import annotations

import operator
import re
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypedDict

from mnemo.agents import model_plan, planner, synthesis
from mnemo.agents.protocol import ResearchLibrary
from mnemo.agents.tools import ToolOutput, parse_args, run_tool
from mnemo.agents.types import EventHandler, Part, ResearchAnswer, ResearchEvent
from mnemo.catalog.memory import MemoryInfo
from mnemo.config import Settings
from mnemo.errors import LLMError, MnemoError, QueryError
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Usage
from mnemo.generation.followup import content_words
from mnemo.generation.tooluse import can_use_tools
from mnemo.generation.types import Answer, Citation
from mnemo.retrieval.context import ContextPassage

NODES = ("plan", "retrieve", "grade", "synthesise", "verify")
_REMEMBER = re.compile(
    r"^\s*(?:please\s+)?(?:remember|note|keep in mind)(?:\s+that)?\s*[:,]?\s+(?P<fact>.+?)"
    r"(?:\.\s+(?P<rest>\S.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_RECALL_MIN = 1  # content words a memory must share with the question


class State(TypedDict, total=False):
    question: str
    collection: str
    key_id: int | None
    comparison: bool
    subjects: list[str]
    subs: list[dict[str, Any]]
    steps: int
    tokens: int
    stopped: str | None
    trace: Annotated[list[dict[str, Any]], operator.add]
    memories: list[dict[str, Any]]
    remembered: dict[str, Any] | None
    planned: bool
    draft: dict[str, Any] | None
    written: dict[str, Any] | None
    history: list[list[str]]  # earlier (question, answer) turns of the conversation


@dataclass
class _Runtime:
    lib: ResearchLibrary
    settings: Settings
    llm: LLM | None
    on_event: EventHandler | None
    started: float = field(default_factory=time.perf_counter)
    events: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        event = ResearchEvent(
            kind, message, data or {}, round(time.perf_counter() - self.started, 3)
        )
        self.events.append(asdict(event))
        if self.on_event is not None:
            self.on_event(event)

    def take(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out

    def over(self, state: State, steps: int = 0, tokens: int = 0) -> str | None:
        cfg = self.settings.research
        if state.get("steps", 0) + steps >= cfg.max_steps:
            return f"research.max_steps {cfg.max_steps} reached"
        if state.get("tokens", 0) + tokens >= cfg.max_tokens:
            return f"research.max_tokens {cfg.max_tokens:,} reached"
        if time.perf_counter() - self.started >= cfg.max_seconds:
            return f"research.max_seconds {cfg.max_seconds:g} reached"
        return None


def _sub(question: str, tool: str = "search", args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "question": question,
        "tool": tool,
        "args": args or {"query": question},
        "passages": [],
        "tried": [],
        "best": None,
        "scored_by": None,
        "status": "pending",
    }


def _memory(info: MemoryInfo) -> dict[str, Any]:
    data = asdict(info)
    data["created_at"] = info.created_at.isoformat()
    data["updated_at"] = info.updated_at.isoformat()
    return data


def _memory_info(data: dict[str, Any]) -> MemoryInfo:
    return MemoryInfo(
        **{
            **data,
            "created_at": datetime.fromisoformat(data["created_at"]),
            "updated_at": datetime.fromisoformat(data["updated_at"]),
        }
    )


def _add_passages(sub: dict[str, Any], output: ToolOutput) -> None:
    seen = {tuple(p["chunk_ids"]) for p in sub["passages"]}
    for passage in output.passages:
        if tuple(passage.chunk_ids) not in seen:
            sub["passages"].append(asdict(passage))
            seen.add(tuple(passage.chunk_ids))
    if output.best is not None and (sub["best"] is None or output.best > sub["best"]):
        if sub["scored_by"] in (None, output.scored_by):
            sub["best"], sub["scored_by"] = output.best, output.scored_by
    elif output.scored_by is None and output.passages and sub["scored_by"] is None:
        sub["scored_by"] = "read"


def build(rt: _Runtime, checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    settings = rt.settings
    cfg = settings.research

    def call_tool(
        state: State, sub: dict[str, Any], tool: str, args: dict[str, Any], how: str
    ) -> None:
        checked = parse_args(tool, args)
        try:
            output = run_tool(rt.lib, state["collection"], tool, checked)
        except MnemoError as exc:
            output = ToolOutput(note=f"error: {exc}")
            rt.emit("tool_error", f"{tool}: {exc}", {"tool": tool})
        state["steps"] = state.get("steps", 0) + 1
        sub["tried"].append(how)
        _add_passages(sub, output)
        rt.emit(
            "tool",
            f"{tool}({_short(args)}): {output.count} result(s)",
            {"tool": tool, "args": args, "count": output.count, "for": sub["question"], "how": how},
        )

    def plan(state: State) -> dict[str, Any]:
        question = state["question"]
        update: dict[str, Any] = {"steps": state.get("steps", 0), "tokens": state.get("tokens", 0)}
        asked = question
        remember = _REMEMBER.match(question)
        if remember:
            fact = remember.group("fact").strip()
            saved = rt.lib.remember(
                fact, collection=state["collection"], key_id=state.get("key_id"), said_in="research"
            )
            update["remembered"] = _memory(saved)
            rt.emit("memory", f"remembered: {saved.text}", {"id": saved.id, "text": saved.text})
            asked = (remember.group("rest") or "").strip()
        memories: list[dict[str, Any]] = []
        if cfg.memory and asked:
            words = set(content_words(asked))
            for info in rt.lib.recall(
                asked, collection=state["collection"], key_id=state.get("key_id")
            ):
                if len(words & set(content_words(info.text))) >= _RECALL_MIN:
                    memories.append(_memory(info))
            if memories:
                rt.emit(
                    "memory",
                    f"recalled {len(memories)} memory item(s)",
                    {"ids": [m["id"] for m in memories]},
                )
        update["memories"] = memories
        if not asked:
            update["subs"] = []
            rt.emit("plan", "nothing to look up", {})
            return {**update, "trace": rt.take()}
        history = [(q, a) for q, a in state.get("history") or []]
        if history and asked:
            from mnemo.agents.conversation import fit
            from mnemo.generation.followup import standalone

            fitted = fit(history, cfg.history_tokens, rt.llm)
            if fitted.summarised:
                rt.emit(
                    "memory",
                    f"summarised {fitted.summarised} earlier turn(s) of the conversation",
                    {"turns": fitted.summarised},
                )
            resolved = standalone(asked, fitted.history, rt.llm)
            used = fitted.usage.input_tokens + fitted.usage.output_tokens
            used += resolved.usage.input_tokens + resolved.usage.output_tokens
            update["tokens"] += used
            if resolved.query != asked:
                rt.emit("plan", f"follow-up read as: {resolved.query}", {"query": resolved.query})
                asked = resolved.query
        documents = None
        if planner._FILE.search(asked):
            page = rt.lib.document_page(collection=state["collection"], limit=1000)
            documents = {d.path.rsplit("/", 1)[-1].lower() for d in page.items}
        found = planner.plan(asked, documents=documents, limit=cfg.max_subquestions)
        subs = []
        for part in found.parts:
            args = dict(part.args)
            if part.tool in ("search", "keyword_search"):
                args.setdefault("k", settings.answer.passages)
            subs.append(_sub(part.question, part.tool, args))
        update.update(subs=subs, comparison=found.comparison, subjects=found.subjects)
        json_mode = cfg.tool_calling == "json" or not can_use_tools(rt.llm)
        if rt.llm is not None and json_mode and not rt.over(state):
            planned = model_plan.json_plan(rt.llm, asked, rt.emit, settings.llm.max_answer_tokens)
            update["steps"] += planned.model_calls
            update["tokens"] += planned.usage.input_tokens + planned.usage.output_tokens
            if planned.calls and not found.comparison:
                update["subs"] = [_sub(q, tool, args) for q, tool, args in planned.calls]
        rt.emit(
            "plan",
            f"{found.why}: " + " | ".join(s["question"] for s in update["subs"]),
            {
                "parts": [s["question"] for s in update["subs"]],
                "tools": [s["tool"] for s in update["subs"]],
            },
        )
        return {**update, "trace": rt.take()}

    def retrieve(state: State) -> dict[str, Any]:
        subs = [
            dict(s, passages=list(s["passages"]), tried=list(s["tried"])) for s in state["subs"]
        ]
        work: State = {**state, "subs": subs}  # type: ignore[typeddict-item]
        stopped = state.get("stopped")
        if (
            rt.llm is not None
            and can_use_tools(rt.llm)
            and cfg.tool_calling != "json"
            and not state.get("planned")
        ):
            _model_retrieve(work, subs)
            stopped = stopped or work.get("stopped")
        for sub in subs:
            if sub["status"] != "pending" or stopped:
                continue
            if not sub["tried"]:
                how, tool, args = "plan", sub["tool"], sub["args"]
            else:
                transform = _next_transform(sub)
                if transform is None and rt.llm is not None and "hyde" not in sub["tried"]:
                    transform = _hyde(rt, work, sub)
                if transform is None:
                    continue
                how, tool, args = transform
            reason = rt.over(work)
            if reason:
                stopped = reason
                rt.emit(
                    "budget",
                    f"stopped: {reason}; answering with what was found",
                    {"reason": reason},
                )
                break
            call_tool(work, sub, tool, args, how)
        return {
            "subs": subs,
            "steps": work.get("steps", 0),
            "tokens": work.get("tokens", 0),
            "stopped": stopped,
            "planned": True,
            "trace": rt.take(),
        }

    def _model_retrieve(work: State, subs: list[dict[str, Any]]) -> None:
        assert rt.llm is not None
        parts = [s["question"] for s in subs]

        def run(name: str, args: Any) -> ToolOutput:
            output = run_tool(rt.lib, work["collection"], name, args)
            given = args.model_dump(exclude_none=True, mode="json")
            rt.emit(
                "tool",
                f"{name}({_short(given)}): {output.count} result(s)",
                {"tool": name, "args": given, "count": output.count, "by": "model"},
            )
            work["steps"] = work.get("steps", 0) + 1
            return output

        def over() -> str | None:
            return rt.over(work)

        def spend(steps: int, tokens: int) -> None:
            work["steps"] = work.get("steps", 0) + steps
            work["tokens"] = work.get("tokens", 0) + tokens

        try:
            planned = model_plan.tool_loop(
                rt.llm,
                work["question"],
                parts,
                run,
                rt.emit,
                over,
                settings.llm.max_answer_tokens,
                spend,
            )
        except LLMError as exc:
            rt.emit("model", f"the model could not plan ({exc}); using the rule-based plan", {})
            return
        if planned.stopped:
            work["stopped"] = planned.stopped
        by_question = {s["question"].lower(): s for s in subs}
        for found in planned.found:
            target = None
            if found.subquestion:
                target = by_question.get(found.subquestion.lower())
                if target is None:
                    target = _sub(found.subquestion, found.tool, found.args)
                    subs.append(target)
                    by_question[found.subquestion.lower()] = target
            if target is None:
                target = next((s for s in subs if not s["passages"]), subs[0] if subs else None)
            if target is None:
                target = _sub(work["question"])
                subs.append(target)
            target["tried"].append(f"model:{found.tool}")
            _add_passages(target, found.output)

    def grade(state: State) -> dict[str, Any]:
        subs = [dict(s) for s in state["subs"]]
        stopped = state.get("stopped")
        for sub in subs:
            if sub["status"] != "pending" or not sub["tried"]:
                if sub["status"] == "pending" and stopped:
                    sub["status"] = "unanswered"
                continue
            verdict, why = _judge(settings, sub)
            if verdict:
                sub["status"] = "answered"
            elif stopped or not _more(sub, rt.llm) or len(sub["tried"]) > cfg.retries:
                sub["status"] = "unanswered"
            rt.emit(
                "grade",
                f"{sub['question']}: {'answered' if verdict else 'not answered'} ({why})"
                + (" - re-query" if sub["status"] == "pending" else ""),
                {
                    "for": sub["question"],
                    "answered": verdict,
                    "best": sub["best"],
                    "by": sub["scored_by"],
                },
            )
        return {"subs": subs, "trace": rt.take()}

    def route(state: State) -> str:
        if state.get("stopped") or not any(s["status"] == "pending" for s in state["subs"]):
            return "synthesise"
        return "retrieve"

    def synthesise(state: State) -> dict[str, Any]:
        begun = time.perf_counter()
        parts = [
            (s["question"], [ContextPassage(**p) for p in s["passages"]], s["status"] == "answered")
            for s in state["subs"]
        ]
        memories = [_memory_info(m) for m in state.get("memories", [])]
        update: dict[str, Any] = {}
        fallback: list[str] = []
        if rt.llm is not None and any(a for _, _, a in parts) and not rt.over(state):
            try:
                draft = _generate(rt, state, parts, memories)
                update.update(
                    draft=draft,
                    steps=state.get("steps", 0) + 1,
                    tokens=state.get("tokens", 0) + draft["tokens"],
                )
                rt.emit(
                    "synthesise",
                    f"the model wrote {len(draft['text'])} characters",
                    {"tokens": draft["tokens"], "seconds": round(time.perf_counter() - begun, 3)},
                )
                return {**update, "trace": rt.take()}
            except LLMError as exc:
                rt.emit("synthesise", f"the language model failed: {exc}; answer is extractive", {})
                fallback.append(f"the language model failed: {exc}; answer is extractive")
        written = synthesis.extractive_answer(
            settings, parts, subjects=state.get("subjects") or () if state.get("comparison") else ()
        )
        written.text = _with_memories(written.text, memories)
        written.warnings = fallback + written.warnings
        rt.emit(
            "synthesise",
            f"extractive answer: {len(written.citations)} quote(s) from {len(written.sources)} passage(s)",
            {"seconds": round(time.perf_counter() - begun, 3)},
        )
        return {"written": _written(written, "extractive", None), "trace": rt.take()}

    def verify(state: State) -> dict[str, Any]:
        draft = state.get("draft")
        if state.get("written") is not None or draft is None:
            written = state.get("written") or _written(
                synthesis.Written("", [], []), "abstained", None
            )
            quoted = sum(1 for c in written["citations"] if c["verdict"] == "quoted")
            rt.emit("verify", f"{quoted} quote(s), each the cited passage's own words", {})
            return {"written": written, "trace": rt.take()}
        sources = [ContextPassage(**p) for p in draft["sources"]]
        allow = rt.over(state) is None
        checked = synthesis.verify_generated(
            settings, rt.llm, draft["text"], sources, allow_revision=allow
        )
        supported = sum(1 for c in checked.citations if c.verdict == "supported")
        rt.emit(
            "verify",
            f"{supported} of {len(checked.citations)} citation(s) supported",
            {"revisions": checked.model_calls, "warnings": checked.warnings},
        )
        model = draft.get("model") or (f"{rt.llm.provider}:{rt.llm.model}" if rt.llm else None)
        out = _written(checked, "generated", model)
        return {
            "written": out,
            "steps": state.get("steps", 0) + checked.model_calls,
            "tokens": state.get("tokens", 0)
            + checked.usage.input_tokens
            + checked.usage.output_tokens,
            "trace": rt.take(),
        }

    graph = StateGraph(State)
    graph.add_node("plan", plan)
    graph.add_node("retrieve", retrieve)
    graph.add_node("grade", grade)
    graph.add_node("synthesise", synthesise)
    graph.add_node("verify", verify)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "retrieve")
    graph.add_edge("retrieve", "grade")
    graph.add_conditional_edges("grade", route, ["retrieve", "synthesise"])
    graph.add_edge("synthesise", "verify")
    graph.add_edge("verify", END)
    return graph.compile(checkpointer=checkpointer)


def _short(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k not in ("subquestion",))[:160]


def _judge(settings: Settings, sub: dict[str, Any]) -> tuple[bool, str]:
    if not sub["passages"]:
        return False, "no passage found"
    best, by = sub["best"], sub["scored_by"]
    if by == "rerank":
        ok = best >= settings.answer.min_rerank_score
        return ok, f"best reranker score {best:.2f}, needs {settings.answer.min_rerank_score:.2f}"
    if by == "dense":
        ok = best >= settings.answer.min_relevance
        return ok, f"best similarity {best:.2f}, needs {settings.answer.min_relevance:.2f}"
    words = set(content_words(sub["question"]))
    text = " ".join(p["text"] for p in sub["passages"]).lower()
    share = sum(w in text for w in words) / len(words) if words else 1.0
    return share >= 0.5, f"{share:.0%} of its words in the passages"


def _more(sub: dict[str, Any], llm: LLM | None) -> bool:
    return _next_transform(sub) is not None or (llm is not None and "hyde" not in sub["tried"])


def _next_transform(sub: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The next corrective query: exact keywords, then a step-back question."""
    words = content_words(sub["question"])
    if "keywords" not in sub["tried"] and words:
        return "keywords", "keyword_search", {"query": " ".join(words), "k": 8}
    if "step_back" not in sub["tried"]:
        broad = [w for w in words if not any(ch.isdigit() for ch in w)]
        if broad and broad != words:
            return "step_back", "search", {"query": " ".join(broad), "k": 8}
        if len(words) > 2:
            return "step_back", "search", {"query": " ".join(words[:-1]), "k": 8, "mode": "dense"}
    return None


def _hyde(rt: _Runtime, work: State, sub: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """HyDE: the model writes the passage that would answer the part (from the question
    alone: no document text, no tools), and dense search looks for passages like it."""
    from mnemo.agents import prompts

    assert rt.llm is not None
    if rt.over(work, steps=1):
        return None
    request = ChatRequest(
        prompts.HYDE,
        [ChatMessage("user", sub["question"])],
        min(200, rt.settings.llm.max_answer_tokens),
        0.0,
    )
    try:
        reply = rt.llm.complete(request)
    except LLMError as exc:
        rt.emit("model", f"could not write a hypothetical passage: {exc}", {})
        sub["tried"].append("hyde")
        return None
    work["steps"] = work.get("steps", 0) + 1
    work["tokens"] = work.get("tokens", 0) + reply.usage.input_tokens + reply.usage.output_tokens
    text = " ".join(reply.text.split())[:480]
    if not text:
        sub["tried"].append("hyde")
        return None
    rt.emit(
        "model",
        "wrote a hypothetical passage to search by meaning (HyDE)",
        {"for": sub["question"]},
    )
    return "hyde", "search", {"query": text, "mode": "dense", "k": 8}


def _generate(
    rt: _Runtime,
    state: State,
    parts: Sequence[tuple[str, list[ContextPassage], bool]],
    memories: list[MemoryInfo],
) -> dict[str, Any]:
    from dataclasses import replace

    from mnemo.agents import prompts

    assert rt.llm is not None
    pool: dict[tuple[str, ...], ContextPassage] = {}
    for _, passages, _ in parts:
        for p in passages:
            pool.setdefault(tuple(p.chunk_ids), p)
    sources = [replace(p, number=i) for i, p in enumerate(pool.values(), 1)]
    body = prompts.synthesis_message(
        state["question"],
        [q for q, _, _ in parts],
        sources,
        memories,
        bool(state.get("comparison")),
    )
    cfg = rt.settings.llm
    reply = rt.llm.complete(
        ChatRequest(
            prompts.SYNTHESISE, [ChatMessage("user", body)], cfg.max_answer_tokens, cfg.temperature
        )
    )
    if not reply.text.strip():
        raise LLMError("the model sent an empty answer")
    return {
        "text": reply.text.strip(),
        "sources": [asdict(s) for s in sources],
        "tokens": reply.usage.input_tokens + reply.usage.output_tokens,
        # the router's choice when there is a chain: the model that wrote it, not the first
        "model": reply.model or f"{rt.llm.provider}:{rt.llm.model}",
    }


def _with_memories(text: str, memories: list[MemoryInfo]) -> str:
    if not memories:
        return text
    lines = [f"[M{i}] {m.text}" for i, m in enumerate(memories, 1)]
    return f"{text}\n\nFrom memory (what you told Mnemo, not your documents):\n" + "\n".join(lines)


def _written(written: synthesis.Written, kind: str, model: str | None) -> dict[str, Any]:
    if not written.citations and kind != "generated":
        kind = "abstained"
    return {
        "text": written.text,
        "kind": kind,
        "model": model,
        "citations": [asdict(c) for c in written.citations],
        "sources": [asdict(s) for s in written.sources],
        "warnings": written.warnings,
    }


def _citation(data: dict[str, Any]) -> Citation:
    source = data.get("source")
    return Citation(**{**data, "source": ContextPassage(**source) if source else None})


# -- running -----------------------------------------------------------------------------


def checkpoint_path(settings: Settings) -> Any:
    return settings.home / "research.sqlite"


def research(
    lib: ResearchLibrary,
    question: str | None,
    *,
    collection: str,
    llm: LLM | None,
    key_id: int | None = None,
    on_event: EventHandler | None = None,
    run_id: str | None = None,
    interrupt_after: Sequence[str] = (),
    history: Sequence[tuple[str, str]] = (),
) -> ResearchAnswer:
    """Run (or, with ``run_id`` of an interrupted run, resume) research on ``question``."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from mnemo.config.private import private_file

    settings = lib.settings
    for node in interrupt_after:
        if node not in NODES:
            raise QueryError(f"interrupt_after: no step {node!r}; use one of {', '.join(NODES)}")
    path = checkpoint_path(settings)
    private_file(path)
    connection = sqlite3.connect(str(path), check_same_thread=False)
    try:
        rt = _Runtime(lib, settings, llm, on_event)
        app = build(rt, SqliteSaver(connection))
        if run_id is None:
            text = " ".join((question or "").split())
            if not text:
                raise QueryError("empty question: ask something about your documents")
            run_id = uuid.uuid4().hex
            given: State | None = {
                "question": text,
                "collection": collection,
                "key_id": key_id,
                "steps": 0,
                "tokens": 0,
                "stopped": None,
                "trace": [],
                "subs": [],
                "history": [[q, a] for q, a in history],
            }
        else:
            given = None
        config = {"configurable": {"thread_id": run_id}, "recursion_limit": 200}
        if given is None:
            snapshot = app.get_state(config)
            if not snapshot.values:
                raise QueryError(f"no research run {run_id!r} to resume")
            if not snapshot.next:
                return _result(snapshot.values, run_id, interrupted=False, llm=llm)
            rt.emit(
                "resume",
                f"resuming before {', '.join(snapshot.next)}",
                {"next": list(snapshot.next)},
            )
        for _ in app.stream(given, config, interrupt_after=list(interrupt_after) or None):
            pass
        snapshot = app.get_state(config)
        return _result(snapshot.values, run_id, interrupted=bool(snapshot.next), llm=llm)
    finally:
        connection.close()


def _result(
    values: dict[str, Any], run_id: str, *, interrupted: bool, llm: LLM | None
) -> ResearchAnswer:
    written = values.get("written") or {
        "text": "",
        "kind": "abstained",
        "model": None,
        "citations": [],
        "sources": [],
        "warnings": [],
    }
    parts = [
        Part(s["question"], s["status"] == "answered", list(s["tried"]), len(s["passages"]))
        for s in values.get("subs", [])
    ]
    warnings = list(written["warnings"])
    if values.get("stopped"):
        warnings.append(f"stopped early: {values['stopped']}; the answer uses what was found")
    missing = [p.question for p in parts if not p.answered]
    if missing and not interrupted:
        warnings.append("the documents did not answer: " + "; ".join(missing))
    trace = [ResearchEvent(**e) for e in values.get("trace", [])]
    answer = Answer(
        question=values.get("question", ""),
        text=written["text"] or ("" if interrupted else synthesis.NOT_ANSWERED),
        kind=written["kind"],
        citations=[_citation(c) for c in written["citations"]],
        sources=[ContextPassage(**s) for s in written["sources"]],
        query=values.get("question", ""),
        model=written["model"],
        warnings=warnings,
        usage=Usage(values.get("tokens", 0), 0),
        seconds={"total": trace[-1].seconds if trace else 0.0},
    )
    remembered = values.get("remembered")
    return ResearchAnswer(
        answer=answer,
        run_id=run_id,
        parts=parts,
        memories=[_memory_info(m) for m in values.get("memories", [])],
        remembered=_memory_info(remembered) if remembered else None,
        trace=trace,
        stopped=values.get("stopped"),
        interrupted=interrupted,
        comparison=bool(values.get("comparison")),
        read=[ContextPassage(**p) for s in values.get("subs", []) for p in s["passages"]],
    )

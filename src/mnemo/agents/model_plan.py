"""Planning and retrieving with a model: native tool calls, or a JSON plan.

Native (OpenAI-compatible ``tools``, Anthropic tool use): the model calls the
research tools; each call's arguments are checked, and a bad call or an
unknown tool gets a one-line error back instead of a crash. The model reads
only what a tool found (counts and file names), never document text, so text
inside a document cannot make it call a tool. The loop ends when the model
answers without a call, or when a budget runs out.

JSON plan (models without tools): the model writes the sub-questions and their
tool calls as JSON; calls that do not check are sent back once with the errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mnemo.agents import prompts
from mnemo.agents.tools import TOOLS, ToolArgumentError, ToolOutput, parse_args
from mnemo.errors import LLMError, MnemoError
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Usage
from mnemo.generation.tooluse import ToolResult, ToolSpec

Emit = Callable[[str, str, dict[str, Any]], None]
RunTool = Callable[[str, Any], ToolOutput]
Over = Callable[[], str | None]


@dataclass
class Found:
    subquestion: str | None
    tool: str
    args: dict[str, Any]
    output: ToolOutput


@dataclass
class Planned:
    found: list[Found] = field(default_factory=list)
    subquestions: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # JSON plan
    usage: Usage = field(default_factory=Usage)
    model_calls: int = 0
    tool_calls: int = 0
    stopped: str | None = None


def specs() -> list[ToolSpec]:
    return [ToolSpec(t.name, t.description, t.schema()) for t in TOOLS.values()]


def tool_loop(
    llm: LLM,
    question: str,
    parts: list[str],
    run: RunTool,
    emit: Emit,
    over: Over,
    max_tokens: int,
    spend: Callable[[int, int], None] = lambda steps, tokens: None,
) -> Planned:
    """Let the model call tools until it answers without one or a budget runs out;
    ``spend(steps, tokens)`` is told of each model call as it is made."""
    out = Planned()
    suggested = "\n".join(f"- {p}" for p in parts)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": f"Question: {question}\nParts found so far:\n{suggested}"}
    ]
    tools = specs()
    while True:
        reason = over()
        if reason:
            out.stopped = reason
            emit("budget", f"stopped planning: {reason}", {"reason": reason})
            break
        turn = llm.use_tools(prompts.PLAN, messages, tools, max_tokens=max_tokens)  # type: ignore[attr-defined]
        out.usage.add(turn.usage)
        out.model_calls += 1
        spend(1, turn.usage.input_tokens + turn.usage.output_tokens)
        emit(
            "model",
            f"model asked for {len(turn.calls)} tool call(s)",
            {
                "calls": len(turn.calls),
                "tokens": turn.usage.input_tokens + turn.usage.output_tokens,
            },
        )
        if not turn.calls:
            out.subquestions = [
                line.strip(" -*\t") for line in turn.text.splitlines() if line.strip(" -*\t")
            ]
            break
        messages.append({"role": "assistant", "content": turn.text, "calls": turn.calls})
        results = []
        for call in turn.calls:
            try:
                args = parse_args(call.name, call.arguments)
                output = run(call.name, args)
                out.tool_calls += 1
                given = args.model_dump(exclude_none=True, mode="json")
                out.found.append(Found(given.pop("subquestion", None), call.name, given, output))
                results.append(ToolResult(call.id, call.name, output.note))
            except ToolArgumentError as exc:
                emit("tool_error", str(exc), {"tool": call.name, "arguments": call.arguments})
                results.append(ToolResult(call.id, call.name, f"error: {exc}", is_error=True))
            except MnemoError as exc:  # a document that does not exist, a bad filter
                emit("tool_error", f"{call.name}: {exc}", {"tool": call.name})
                results.append(ToolResult(call.id, call.name, f"error: {exc}", is_error=True))
        messages.append({"role": "tool", "results": results})
    return out


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def json_plan(llm: LLM, question: str, emit: Emit, max_tokens: int) -> Planned:
    out = Planned()
    system = prompts.JSON_PLAN % ", ".join(TOOLS)
    messages = [ChatMessage("user", f"Question: {question}")]
    for attempt in range(2):
        try:
            reply = llm.complete(ChatRequest(system, messages, max_tokens, 0.0))
        except LLMError as exc:
            emit("model", f"the model could not plan: {exc}", {})
            return out
        out.usage.add(reply.usage)
        out.model_calls += 1
        errors: list[str] = []
        calls: list[tuple[str, str, dict[str, Any]]] = []
        try:
            data = json.loads(_FENCE.sub("", reply.text.strip()))
            items = data["subquestions"] if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ValueError("subquestions is not a list")  # noqa: TRY004
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(f"the reply is not the JSON plan asked for ({exc})")
            items = []
        for item in items:
            if not isinstance(item, dict) or not str(item.get("question", "")).strip():
                errors.append(f"each sub-question needs a 'question': {item!r}")
                continue
            text = str(item["question"]).strip()
            tool = str(item.get("tool") or "search")
            args = item.get("args") or {"query": text}
            try:
                parse_args(tool, args)
                calls.append((text, tool, args))
            except ToolArgumentError as exc:
                errors.append(str(exc))
        emit("model", f"JSON plan: {len(calls)} sub-question(s)", {"errors": errors})
        if not errors or attempt == 1:
            out.calls = calls
            out.subquestions = [c[0] for c in calls]
            return out
        messages += [
            ChatMessage("assistant", reply.text),
            ChatMessage(
                "user", "Fix these problems and reply with JSON only:\n" + "\n".join(errors)
            ),
        ]
    return out

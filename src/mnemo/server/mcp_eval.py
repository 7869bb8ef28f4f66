"""MCP tools of `mnemo eval` (build a set, score it, read its report) and of traces
(list, show one, drift), over the same functions and models as the REST routes.

Traces hold the questions people asked: over HTTP their tools need an admin key
(the ``/mcp`` mount itself needs a write key); over stdio the user runs the server
on their own home and may read them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mnemo.eval import saved
from mnemo.library import Library
from mnemo.server.eval_api import (
    EvalReportOut,
    EvalSetOut,
    EvalTuneOut,
    report_out,
    set_out,
    tune_out,
)
from mnemo.server.traces_api import DriftOut, SpanOut, TraceOut, span_out

CollectionArg = Annotated[
    str | None, Field(description="Collection to use; default: the server's default collection.")
]
SetArg = Annotated[
    str,
    Field(
        pattern=saved.NAME.pattern,
        description="The set's name; 'default' is the one `mnemo eval` uses.",
    ),
]


class EvalSets(BaseModel):
    sets: list[EvalSetOut]


class EvalReportText(BaseModel):
    set: str
    kind: str
    markdown: str


class TraceList(BaseModel):
    traces: list[TraceOut]


class DriftList(BaseModel):
    reports: list[DriftOut] = Field(description="One per relevance scale; empty: no asks yet.")


def _admin(
    ctx: Context[Any, Any] | None, why: str = "traces hold the questions people asked"
) -> None:
    """Over HTTP, a ToolError unless the caller's key has the admin scope."""
    request = getattr(ctx.request_context, "request", None) if ctx is not None else None
    state = getattr(request, "scope", {}).get("state") or {}
    principal = state.get("principal")
    if principal is not None and principal.scope != "admin":
        raise ToolError(f"{why}: this needs an admin key (this key has {principal.scope!r})")


def tools(
    library: Library, errors: Callable[[], AbstractContextManager[None]]
) -> list[tuple[Callable[..., Any], str, bool]]:
    """(tool, title, read only) for each tool."""

    def build_eval_set(
        collection: CollectionArg = None,
        set_name: SetArg = saved.DEFAULT,
        count: Annotated[int, Field(ge=1, le=500, description="Passages to ask about.")] = 50,
        keywords: Annotated[
            bool, Field(description="Keyword questions even with a language model.")
        ] = False,
        replace: Annotated[bool, Field(description="Replace a set of that name.")] = False,
    ) -> EvalSetOut:
        """Build an evaluation set from the collection: a question (and reference answer)
        per sampled passage, plus every answer judged bad. Saved for `evaluate`."""
        with errors():
            built = saved.build_set(
                library,
                collection,
                set_name,
                count=count,
                use_llm=False if keywords else None,
                replace=replace,
            )
        return set_out(built)

    def evaluate(
        collection: CollectionArg = None,
        set_name: SetArg = saved.DEFAULT,
        answers: Annotated[bool, Field(description="Also answer and score answers.")] = True,
        k: Annotated[int, Field(ge=1, le=100, description="Cut-off of the metrics.")] = 10,
        limit: Annotated[int, Field(ge=1, le=2000, description="At most this many.")] = 200,
    ) -> EvalReportOut:
        """Score an evaluation set: retrieval (recall@k, MRR, nDCG), answers (context
        recall, faithfulness, correctness) and latency, per case and overall."""
        with errors():
            result = saved.score_set(
                library, collection, set_name, k=k, answers=answers, limit=limit
            )
        return report_out(set_name, result)

    def tune_search(
        ctx: Context[Any, Any],
        collection: CollectionArg = None,
        set_name: SetArg = saved.DEFAULT,
        save: Annotated[
            bool, Field(description="Keep the tuned settings for the collection (admin key).")
        ] = False,
    ) -> EvalTuneOut:
        """Tune the fusion weight, candidate depth, chunk neighbours and abstention
        threshold on one half of an evaluation set, report them on the other half, and
        (with save) keep them for the collection."""
        if save:
            _admin(ctx, "keeping tuned settings changes answers for everyone")
        with errors():
            result, kept = saved.tune_set(library, collection, set_name, save=save)
        return tune_out(set_name, result, kept)

    def read_eval_report(
        collection: CollectionArg = None,
        set_name: SetArg = saved.DEFAULT,
        kind: Annotated[Literal["eval", "tune"], Field(description="eval or tune")] = "eval",
    ) -> EvalReportText:
        """The latest evaluation (or tuning) report of a set, as Markdown."""
        with errors():
            text = saved.read_report(library, collection, set_name, kind=kind)
        return EvalReportText(set=set_name, kind=kind, markdown=text)

    def list_eval_sets(collection: CollectionArg = None) -> EvalSets:
        """The collection's saved evaluation sets and the reports written for each."""
        with errors():
            found = saved.list_sets(library, collection)
        return EvalSets(sets=[EvalSetOut.model_validate(s, from_attributes=True) for s in found])

    def list_traces(
        ctx: Context[Any, Any],
        limit: Annotated[int, Field(ge=1, le=500, description="How many, newest first.")] = 20,
        kind: Annotated[str | None, Field(description="Only these: ask, search, ingest.")] = None,
    ) -> TraceList:
        """The latest traces (asks, searches, ingestion runs): id, when, how long."""
        _admin(ctx)
        with errors():
            found = library.traces(limit=limit, name=kind)
        return TraceList(traces=[TraceOut.model_validate(t, from_attributes=True) for t in found])

    def show_trace(
        ctx: Context[Any, Any],
        trace_id: Annotated[str, Field(description="A trace id, or enough of its start.")],
    ) -> SpanOut:
        """One trace as a tree of spans (retrieve, rerank, generate, verify...) with their
        times and attributes."""
        _admin(ctx)
        with errors():
            return span_out(library.trace(trace_id))

    def trace_drift(
        ctx: Context[Any, Any],
        scale: Annotated[
            Literal["rerank", "dense"] | None,
            Field(description="Only this relevance scale; default: each one seen."),
        ] = None,
    ) -> DriftList:
        """Has the best passage's relevance or the abstention rate moved lately? Compares
        the latest answers with the window before them."""
        _admin(ctx)
        with errors():
            found = [r for r in library.drift() if scale is None or r.scale == scale]
        return DriftList(reports=[DriftOut.model_validate(r, from_attributes=True) for r in found])

    return [
        (build_eval_set, "Build an evaluation set", False),
        (evaluate, "Evaluate on your documents", False),
        (tune_search, "Tune search on your documents", False),
        (read_eval_report, "Read an evaluation report", True),
        (list_eval_sets, "List evaluation sets", True),
        (list_traces, "List traces", True),
        (show_trace, "Show a trace", True),
        (trace_drift, "Answer drift", True),
    ]

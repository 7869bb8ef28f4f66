"""Reading the traces on file: one line per trace, and one trace as a tree of spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mnemo.errors import MnemoError
from mnemo.tracing import read_spans

if TYPE_CHECKING:
    from mnemo.config import Settings


class TraceNotFoundError(MnemoError):
    """No trace has that id (or id prefix)."""

    exit_code = 2


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    name: str  # the root span's: ask, ingest
    started: datetime
    milliseconds: float
    spans: int
    attributes: dict[str, Any]  # the root span's


@dataclass
class SpanNode:
    name: str
    span_id: str
    start_ns: int
    milliseconds: float
    status: str
    attributes: dict[str, Any]
    children: list[SpanNode] = field(default_factory=list)

    def walk(self, depth: int = 0) -> list[tuple[int, SpanNode]]:
        """This span and its descendants in start order, with their depth."""
        found = [(depth, self)]
        for child in sorted(self.children, key=lambda c: c.start_ns):
            found += child.walk(depth + 1)
        return found


def list_traces(
    settings: Settings, *, limit: int = 20, name: str | None = None
) -> list[TraceSummary]:
    """The latest traces first; only those whose root span is ``name`` if given."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in read_spans(settings):
        by_trace.setdefault(span["trace_id"], []).append(span)
    summaries = []
    for trace_id, spans in by_trace.items():
        root = _root(spans)
        if root is None or (name is not None and root["name"] != name):
            continue
        summaries.append(
            TraceSummary(
                trace_id=trace_id,
                name=root["name"],
                started=_time(root["start_ns"]),
                milliseconds=_ms(root),
                spans=len(spans),
                attributes=root.get("attributes") or {},
            )
        )
    summaries.sort(key=lambda s: s.started, reverse=True)
    return summaries[:limit]


def show_trace(settings: Settings, trace_id: str) -> SpanNode:
    """The trace whose id starts with ``trace_id``, as its root span with children."""
    wanted = trace_id.strip().lower()
    if not wanted:
        raise TraceNotFoundError("give a trace id (see `mnemo traces list`)")
    spans = [s for s in read_spans(settings) if s["trace_id"].startswith(wanted)]
    ids = {s["trace_id"] for s in spans}
    if not ids:
        raise TraceNotFoundError(f"no trace {trace_id!r} on file; `mnemo traces list` shows them")
    if len(ids) > 1:
        raise TraceNotFoundError(f"{trace_id!r} starts {len(ids)} trace ids; give more of it")
    nodes = {
        s["span_id"]: SpanNode(
            s["name"],
            s["span_id"],
            s["start_ns"],
            _ms(s),
            s.get("status", ""),
            s.get("attributes") or {},
        )
        for s in spans
    }
    roots = []
    for s in spans:
        parent = nodes.get(s.get("parent_id") or "")
        (parent.children if parent is not None else roots).append(nodes[s["span_id"]])
    roots.sort(key=lambda n: n.start_ns)
    root = roots[0]
    root.children += roots[1:]  # spans whose parent was not recorded (e.g. cut by a crash)
    return root


def _root(spans: list[dict[str, Any]]) -> dict[str, Any] | None:
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if not s.get("parent_id") or s["parent_id"] not in ids]
    return min(roots, key=lambda s: s["start_ns"]) if roots else None


def _ms(span: dict[str, Any]) -> float:
    return ((span.get("end_ns") or span["start_ns"]) - span["start_ns"]) / 1e6


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)

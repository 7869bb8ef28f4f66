"""Traces of what Mnemo does: OpenTelemetry spans for every ask and ingestion run.

Spans go to ``<home>/traces/spans.jsonl`` (one JSON object a line, rotated at
``traces.file_mb`` to ``spans.1.jsonl``) and, when ``traces.otlp_endpoint`` is set,
to an OTLP/HTTP collector as well. An ask is a tree ``ask > retrieve > keyword | embed
| dense | fuse | rerank``, ``generate``, ``verify`` (or ``extract``); an ingestion run
is ``ingest > file > parse, chunk`` (timed in the worker process that did them),
``index``, ``embed``. Attributes carry what a reader needs to follow a run (the
question with personal data masked, the answer's kind and model, scores, flags),
never a key or a masked value.

Each data directory has its own tracer provider (one process may serve several in
tests); the OpenTelemetry SDK is imported on the first span, not with ``mnemo``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from mnemo.config import Settings

SPANS_FILE = "spans.jsonl"
Attributes = Mapping[str, "str | int | float | bool | Sequence[str]"]

_lock = threading.Lock()
_providers: dict[tuple[Path, str | None, float], Any] = {}


def spans_path(settings: Settings) -> Path:
    return settings.home / "traces" / SPANS_FILE


@contextmanager
def span(settings: Settings, name: str, attributes: Attributes | None = None) -> Iterator[Span]:
    """A span named ``name``, child of the current one (a new trace when there is none)."""
    if not settings.traces.enabled:
        from opentelemetry import trace

        yield trace.INVALID_SPAN
        return
    tracer = _tracer(settings)
    with tracer.start_as_current_span(name, attributes=_clean(attributes)) as current:
        yield current


def timed_span(
    settings: Settings,
    name: str,
    stages: Sequence[tuple[str, float]],
    end_ns: int,
    attributes: Attributes | None = None,
) -> None:
    """A finished child span of the current one that was timed elsewhere (in a worker
    process): ``stages`` are (name, seconds) run one after the other and ending at
    ``end_ns``; each becomes a child span of ``name``."""
    if not settings.traces.enabled:
        return
    from opentelemetry import trace

    tracer = _tracer(settings)
    start = end_ns - int(sum(seconds for _, seconds in stages) * 1e9)
    parent = tracer.start_span(name, start_time=start, attributes=_clean(attributes))
    context = trace.set_span_in_context(parent)
    at = start
    for stage, seconds in stages:
        child = tracer.start_span(stage, context=context, start_time=at)
        at += int(seconds * 1e9)
        child.end(end_time=at)
    parent.end(end_time=max(at, end_ns))


def annotate(**attributes: str | float | bool | None) -> None:
    """Set attributes on the current span (``mnemo.`` is prefixed; None is skipped)."""
    from opentelemetry import trace

    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(f"mnemo.{key}", value)


def current_trace_id() -> str | None:
    """The current trace's id in hex, or None outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def flush(settings: Settings) -> None:
    """Export what is buffered (the OTLP exporter batches; the file is written at once)."""
    key = _key(settings)
    with _lock:
        provider = _providers.get(key)
    if provider is not None:
        provider.force_flush()


def read_spans(settings: Settings, name: str | None = None) -> list[dict[str, Any]]:
    """Every span on file, oldest first (the rotated file first); bad lines are skipped.
    With ``name``, only lines that may be spans of that name are parsed (a prefilter on
    the text: callers still check ``span["name"]``), several times faster."""
    marker = json.dumps({"name": name})[1:-1] if name is not None else None
    spans: list[dict[str, Any]] = []
    path = spans_path(settings)
    for file in (path.with_name("spans.1.jsonl"), path):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if marker is not None and marker not in line:
                continue
            try:
                spans.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return spans


# -- the SDK side ---------------------------------------------------------------------


def _key(settings: Settings) -> tuple[Path, str | None, float]:
    return (settings.home, settings.traces.otlp_endpoint, settings.traces.file_mb)


def _tracer(settings: Settings) -> Any:
    key = _key(settings)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = _provider(settings)
    return provider.get_tracer("mnemo")


def _provider(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "mnemo"}))
    limit = int(settings.traces.file_mb * 1024 * 1024)
    provider.add_span_processor(SimpleSpanProcessor(_JsonlExporter(spans_path(settings), limit)))
    endpoint = settings.traces.otlp_endpoint
    if endpoint:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            from mnemo.errors import ConfigError

            raise ConfigError(
                "traces.otlp_endpoint is set but the OTLP exporter is not installed: "
                "pip install opentelemetry-exporter-otlp-proto-http (or unset it)"
            ) from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


class _JsonlExporter:
    """Appends finished spans to a JSONL file, one line each, rotating at ``limit`` bytes."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = "".join(json.dumps(_as_dict(s), ensure_ascii=False) + "\n" for s in spans)
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if self.path.exists() and self.path.stat().st_size > self.limit:
                    self.path.replace(self.path.with_name("spans.1.jsonl"))
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(lines)
            except OSError:
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _as_dict(span: Any) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


def _clean(attributes: Attributes | None) -> dict[str, Any] | None:
    if not attributes:
        return None
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in attributes.items() if v is not None
    }

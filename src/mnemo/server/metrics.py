"""Prometheus metrics, served at /metrics.

Requests and latency by route template and status; retrieval and LLM latency
and tokens from each answer; the ingestion queue depth; documents and chunks
per collection, read from the catalog when scraped. Each app has its own
registry, so several servers can live in one process (tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mnemo.library import Library

from mnemo.generation.types import Answer

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _CollectionSizes(Collector):
    def __init__(self, library: Library) -> None:
        self.library = library

    def collect(self) -> Iterator[GaugeMetricFamily]:
        documents = GaugeMetricFamily(
            "mnemo_documents", "Documents per collection and state", labels=["collection", "state"]
        )
        chunks = GaugeMetricFamily("mnemo_chunks", "Chunks per collection", labels=["collection"])
        for status in self.library.status(check_index=False):
            for state, count in status.documents.items():
                documents.add_metric([status.name, state], count)
            chunks.add_metric([status.name], status.chunks)
        yield documents
        yield chunks


class Metrics:
    def __init__(self, library: Library, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mnemo_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mnemo_http_request_seconds",
            "HTTP request latency by route template",
            ["route", "method"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.stage = Histogram(
            "mnemo_stage_seconds",
            "Time spent answering, by stage: retrieve, generate, verify, total",
            ["stage"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.tokens = Counter(
            "mnemo_llm_tokens",
            "Tokens used by the language model",
            ["kind"],
            registry=self.registry,
        )
        self.answers = Counter(
            "mnemo_answers",
            "Answers by where they came from: cache (exact or rephrased question) or fresh",
            ["source"],
            registry=self.registry,
        )
        self.cache_saved = Counter(
            "mnemo_answer_cache_saved_seconds",
            "Answering time the answer cache saved (the time each cached answer took to make)",
            registry=self.registry,
        )
        self.feedback = Counter(
            "mnemo_feedback", "Judgements of answers, by kind", ["kind"], registry=self.registry
        )
        queue = Gauge(
            "mnemo_ingest_queue_depth", "Ingestion jobs waiting to run", registry=self.registry
        )
        queue.set_function(queue_depth)
        self.registry.register(_CollectionSizes(library))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        for stage, seconds in answer.seconds.items():
            if stage != "saved":  # not a stage: what the cache saved (below)
                self.stage.labels(stage).observe(seconds)
        self.tokens.labels("input").inc(answer.usage.input_tokens)
        self.tokens.labels("output").inc(answer.usage.output_tokens)
        self.answers.labels("cache" if answer.cached_at is not None else "fresh").inc()
        self.cache_saved.inc(answer.seconds.get("saved", 0.0))

    def observe_feedback(self, thumbs: str | None, rating: int | None, correction: str | None) -> None:
        if thumbs:
            self.feedback.labels(f"thumbs_{thumbs}").inc()
        if rating is not None:
            self.feedback.labels("rating").inc()
        if correction:
            self.feedback.labels("correction").inc()

    def observe_search(self, seconds: float) -> None:
        self.stage.labels("search").observe(seconds)

"""Traces and metrics: every ask and ingestion run leaves a span tree in
<home>/traces/spans.jsonl that `mnemo traces` reads back; drift compares recent answers
with earlier ones; /metrics counts answers, tokens, cost, citations and guards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

import mnemo
from llmserver import MODEL, Script, citing, serve_openai
from mnemo import tracing
from mnemo.config import load_settings
from serverutil import serving

#: The scripted model's answer, citing the passage that says it.
BOUGHT = citing("Facebook acquired WhatsApp in 2014", "whatsapp.md", "acquired")


def spans_of(home: Path, trace_id: str) -> list[dict[str, Any]]:
    lines = (home / "traces" / "spans.jsonl").read_text().splitlines()
    return [s for s in map(json.loads, lines) if s["trace_id"] == trace_id]


def tree(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """{name: {child name: {...}}} from parent ids (names are unique per level here)."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        by_parent.setdefault(span["parent_id"], []).append(span)

    def grow(parent: str | None) -> dict[str, Any]:
        return {s["name"]: grow(s["span_id"]) for s in by_parent.get(parent, [])}

    return grow(None)


def llm(url: str) -> dict[str, Any]:
    return {
        "llm": {
            "provider": "openai-compatible",
            "model": MODEL,
            "base_url": url,
            "max_retries": 0,
        }
    }


def test_an_ask_is_one_trace_with_a_span_per_stage(indexed_library: Path) -> None:
    with serve_openai(Script(replies=[BOUGHT])) as url:
        answer = mnemo.ask("Who bought WhatsApp?", load_settings(indexed_library, llm(url)))
    assert answer.kind == "generated" and answer.trace_id
    spans = spans_of(indexed_library, answer.trace_id)
    assert tree(spans) == {
        "ask": {
            "retrieve": {
                "search": {"keyword": {}, "embed": {}, "dense": {}, "fuse": {}, "rerank": {}}
            },
            "generate": {},
            "verify": {},
        }
    }
    root = next(s for s in spans if s["name"] == "ask")
    assert root["attributes"]["mnemo.kind"] == "generated"
    assert root["attributes"]["mnemo.model"] == f"openai-compatible:{MODEL}"
    assert root["attributes"]["mnemo.question"] == "Who bought WhatsApp?"
    assert root["attributes"]["mnemo.relevance_scale"] == "rerank"
    for span in spans:  # children lie within their parents' time
        parent = next((p for p in spans if p["span_id"] == span["parent_id"]), None)
        if parent is not None:
            assert parent["start_ns"] <= span["start_ns"] <= span["end_ns"] <= parent["end_ns"]


def test_an_ingestion_run_is_one_trace(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Owls\n\nOwls hunt at night and sleep during the day.\n")
    (docs / "b.md").write_text("# Bats\n\nBats find insects by echolocation.\n")
    settings = load_settings(tmp_path / "home", {"ingest": {"workers": 1}})
    mnemo.add([docs], settings)
    with mnemo.Library(settings) as library:
        [summary] = library.traces(name="ingest")
        root = library.trace(summary.trace_id[:10])
    walked = [(depth, node.name) for depth, node in root.walk()]
    assert walked[0] == (0, "ingest")
    files = [n for _, n in root.walk() if n.name == "file"]
    assert sorted(f.attributes["mnemo.path"].rsplit("/", 1)[-1] for f in files) == ["a.md", "b.md"]
    for node in files:
        assert [c.name for c in node.children] == ["read", "parse", "chunk"]
    assert {n.name for n in root.children} >= {"file", "index", "embed"}
    assert summary.attributes["mnemo.files.indexed"] == 2


def test_cli_lists_and_shows_traces(indexed_library: Path, cli) -> None:
    answer = mnemo.ask("Who bought WhatsApp?", load_settings(indexed_library))
    env = {"MNEMO_HOME": str(indexed_library)}
    listed = cli("traces", "list", "--name", "ask", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert answer.trace_id in listed.stdout
    shown = cli("traces", "show", answer.trace_id[:12], env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("ask ")
    assert any(line.startswith("  retrieve ") for line in lines)
    assert any(line.startswith("  extract ") for line in lines)
    missing = cli("traces", "show", "ffffffffffff", env=env)
    assert missing.returncode != 0 and "no trace" in missing.stderr


def test_traces_can_be_turned_off(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Owls\n\nOwls hunt at night.\n")
    settings = load_settings(tmp_path / "home", {"traces": {"enabled": False}})
    mnemo.add([docs], settings)
    answer = mnemo.ask("When do owls hunt?", settings)
    assert answer.trace_id is None
    assert not (tmp_path / "home" / "traces").exists()


def test_drift_warns_when_relevance_and_abstentions_move(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", {"traces": {"drift_window": 10}})

    def asked(relevance: float, kind: str, embedder: str) -> None:
        attributes = {
            "mnemo.kind": kind,
            "mnemo.relevance": relevance,
            "mnemo.relevance_scale": "dense",
            "mnemo.embedder": embedder,
        }
        with tracing.span(settings, "ask", attributes):
            pass

    for i in range(10):
        asked(0.62 + 0.01 * (i % 3), "generated", "bge-small")
    with mnemo.Library(settings) as library:
        assert library.drift()[0].warnings == []  # one window: nothing to compare yet
    for i in range(10):
        asked(0.41 + 0.01 * (i % 3), "abstained" if i < 5 else "generated", "minilm")
    with mnemo.Library(settings) as library:
        [report] = library.drift()
    joined = " ".join(report.warnings)
    assert "relevance moved -0.210" in joined
    assert "abstentions moved from 0% to 50%" in joined
    assert "the embedder changed (bge-small -> minilm)" in joined


def test_metrics_count_answers_tokens_cost_and_guards(indexed_library: Path) -> None:
    with serve_openai(Script(replies=[BOUGHT] * 2)) as url:
        settings = load_settings(
            indexed_library, {**llm(url), "traces": {"prices": {MODEL: [1000.0, 2000.0]}}}
        )
        with serving(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
            asked = client.post(
                "/collections/default/ask", json={"question": "Who bought WhatsApp?"}
            )
            assert asked.status_code == 200, asked.text
            out = asked.json()
            assert out["model"] == f"openai-compatible:{MODEL}" and out["trace_id"]
            streamed = client.post(
                "/v1/chat/completions",
                json={
                    "model": "default",
                    "stream": True,
                    "messages": [{"role": "user", "content": "Who bought WhatsApp?"}],
                },
            )
            assert streamed.status_code == 200
            hostile = client.post(
                "/collections/default/ask",
                json={"question": "When does Project Falcon launch?", "extractive": True},
            )
            assert hostile.json()["injections"], hostile.text
            text = client.get("/metrics").text
    model = f'model="openai-compatible:{MODEL}"'
    assert f'mnemo_answers_total{{kind="generated",{model}}} 2.0' in text
    assert f"mnemo_time_to_first_token_seconds_count{{{model}}} 1.0" in text
    assert f"mnemo_time_per_output_token_seconds_count{{{model}}} 2.0" in text
    assert 'mnemo_citations_total{verdict="supported"} 2.0' in text
    tokens = [line for line in text.splitlines() if line.startswith("mnemo_model_tokens_total{")]
    used = {("input" in line): float(line.rsplit(" ", 1)[1]) for line in tokens}
    cost = next(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mnemo_model_cost_dollars_total{")
    )
    assert cost == (used[True] * 1000.0 + used[False] * 2000.0) / 1e6 > 0
    assert 'mnemo_answers_total{kind="extractive",model="none"} 1.0' in text
    flags = next(
        line for line in text.splitlines() if line.startswith("mnemo_injection_flags_total")
    )
    assert float(flags.split()[1]) >= len(hostile.json()["injections"]) > 0
    assert "mnemo_pii_masked_total 0.0" in text  # the model is local: nothing masked


def test_the_grafana_dashboard_charts_metrics_the_server_exports(tmp_path: Path) -> None:
    import re

    dashboard = json.loads(
        (Path(__file__).parents[1] / "docs" / "grafana-dashboard.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    charted = {
        re.sub(r"_(bucket|total)$", "", m) for e in exprs for m in re.findall(r"mnemo_\w+", e)
    }
    with serving(load_settings(tmp_path / "home")) as base:
        text = httpx.get(f"{base}/metrics").text
    exported = {
        re.sub(r"_total$", "", m) for m in re.findall(r"^# TYPE (mnemo_\w+) ", text, re.MULTILINE)
    }
    assert charted and charted <= exported, charted - exported


def test_spans_go_to_an_otlp_collector_when_one_is_configured(indexed_library: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    Thread(target=collector.serve_forever, args=(0.02,), daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
        settings = load_settings(indexed_library, {"traces": {"otlp_endpoint": endpoint}})
        answer = mnemo.ask("Who bought WhatsApp?", settings)
        tracing.flush(settings)
    finally:
        collector.shutdown()
        collector.server_close()
    assert received, "no spans reached the collector"
    path, content_type, _ = received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    sent = b"".join(body for _, _, body in received)
    assert bytes.fromhex(answer.trace_id or "") in sent  # the same trace, by id
    assert b"retrieve" in sent and b"mnemo.kind" in sent
    assert spans_of(indexed_library, answer.trace_id or "")  # and still on file


def test_status_warns_of_drift(cli, home: Path) -> None:
    cli("collections", "create", "default", check=True)
    (home / "mnemo.toml").write_text("[traces]\ndrift_window = 5\n")
    settings = load_settings(home)
    assert "answer drift" not in cli("status", check=True).stdout
    for relevance, kind in [(0.7, "generated")] * 5 + [(0.3, "abstained")] * 5:
        attributes = {
            "mnemo.kind": kind,
            "mnemo.relevance": relevance,
            "mnemo.relevance_scale": "dense",
            "mnemo.embedder": "minilm",
        }
        with tracing.span(settings, "ask", attributes):
            pass
    shown = cli("status", check=True).stdout
    assert "answer drift: best-passage relevance moved -0.400" in shown
    assert "abstentions moved from 0% to 100%" in shown

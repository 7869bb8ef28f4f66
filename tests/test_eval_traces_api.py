"""`mnemo eval` and traces from REST and MCP: a set built, scored and its report read
with the right scopes; traces listed, shown as a span tree and checked for drift by
admin keys only, with personal data still masked as it is in the files.

A real server (uvicorn on loopback) over a real catalog and index in a temporary
home; real keys; the official MCP client over streamable HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from evaldocs import write_projects
from mnemo import Library
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.server.auth import create_key
from serverutil import build_library, serving
from test_mcp import _text, connected

EMAIL = "maria.keller@example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """An indexed home, a key of each scope, and asks on file in its traces: one with an
    email address in the question, asked with a remote model configured (never reached:
    the ask is extractive), so the trace holds it masked."""
    settings = build_library(tmp_path_factory.mktemp("evalapi"))
    with Catalog(settings.catalog_path) as catalog:
        keys = {scope: create_key(catalog, scope, scope)[1] for scope in ("read", "write", "admin")}
    remote = load_settings(
        settings.home,
        {
            "llm": {
                "provider": "openai-compatible",
                "model": "m",
                "base_url": "https://llm.example.com/v1",
            },
            "guard": {"pii": "mask"},
        },
    )
    with Library(remote) as library:
        library.ask(f"When does the Falcon team launch? Reply to {EMAIL}", use_llm=False)
        library.ask("What causes tides?", use_llm=False)
    return settings, keys


def _client(url: str, secret: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=120)


def test_rest_builds_scores_and_reports_a_set(served: tuple[Settings, dict[str, str]]) -> None:
    settings, keys = served
    with (
        serving(settings) as url,
        _client(url, keys["read"]) as reader,
        _client(url, keys["write"]) as writer,
    ):
        refused = reader.post("/collections/default/eval/sets", json={"count": 3})
        assert refused.status_code == 403  # building writes a file: write scope
        assert reader.get("/collections/default/eval/sets").json() == []

        built = writer.post("/collections/default/eval/sets", json={"count": 3, "keywords": True})
        assert built.status_code == 201, built.text
        made = built.json()["cases"]
        assert made >= 2 and built.json()["origins"] == {"keyword": made}
        again = writer.post("/collections/default/eval/sets", json={"count": 3})
        assert again.status_code == 409  # the set may hold the user's edits
        assert again.json()["error"]["code"] == "eval_set_exists"

        cases = reader.get("/collections/default/eval/sets/default").json()
        assert len(cases) == made and all(len(c["chunk_ids"]) == 1 for c in cases)
        # the user edits the set: a case whose question holds markup
        path = settings.home / "eval" / "default.jsonl"
        edited = {"id": "mine", "question": "<script>alert(1)</script> Falcon launch date?"}
        path.write_text(path.read_text() + json.dumps(edited) + "\n")

        assert reader.post("/collections/default/eval/runs", json={}).status_code == 403
        run = writer.post("/collections/default/eval/runs", json={"answers": True})
        assert run.status_code == 200, run.text
        report = run.json()
        assert report["set"] == "default" and len(report["cases"]) == made + 1
        assert report["metrics"]["recall@10"] >= 0.6
        assert report["metrics"]["cases"] == made + 1
        assert {c["kind"] for c in report["cases"]} <= {"extractive", "abstained"}

        listed = reader.get("/collections/default/eval/sets").json()
        assert [(s["name"], s["cases"], s["reports"]) for s in listed] == [
            ("default", made + 1, ["eval"])
        ]
        reports = reader.get("/collections/default/eval/reports").json()
        assert [(r["set"], r["kind"]) for r in reports] == [("default", "eval")]
        markdown = reader.get("/collections/default/eval/reports/default")
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert "nDCG@10" in markdown.text
        page = reader.get("/collections/default/eval/reports/default", params={"format": "html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "<table>" in page.text and "<script>" not in page.text
        assert "sandbox" in page.headers["content-security-policy"]

        missing = reader.get("/collections/default/eval/reports/other")
        assert missing.status_code == 404
        assert "no eval report of set 'other'" in missing.json()["error"]["message"]
        unknown = reader.get("/collections/nope/eval/sets")
        assert unknown.status_code == 404
    # `mnemo eval` from the CLI finds the report where the API wrote it
    assert (settings.home / "eval" / "default.report.md").exists()


def test_rest_traces_need_an_admin_key_and_stay_masked(
    served: tuple[Settings, dict[str, str]],
) -> None:
    settings, keys = served
    with (
        serving(settings) as url,
        _client(url, keys["write"]) as writer,
        _client(url, keys["admin"]) as admin,
    ):
        refused = writer.get("/traces")
        assert refused.status_code == 403
        assert "admin" in refused.json()["error"]["message"]
        asks = admin.get("/traces", params={"name": "ask"}).json()
        questions = [t["attributes"]["mnemo.question"] for t in asks]
        assert "What causes tides?" in questions
        masked = next(q for q in questions if "Reply to" in q)
        assert EMAIL not in masked and "<EMAIL_ADDRESS" in masked

        tree = admin.get(f"/traces/{asks[0]['trace_id'][:12]}")
        assert tree.status_code == 200, tree.text
        root = tree.json()
        assert root["name"] == "ask"
        assert "retrieve" in {c["name"] for c in root["children"]}
        assert root["attributes"]["mnemo.kind"] in ("extractive", "abstained")
        assert admin.get("/traces/" + "0" * 32).status_code == 404

        drift = admin.get("/traces/drift").json()
        assert drift and drift[0]["recent"]["answers"] >= 2
        assert drift[0]["earlier"] is None and drift[0]["warnings"] == []


def test_mcp_evaluates_and_reads_traces_with_the_right_keys(
    served: tuple[Settings, dict[str, str]],
) -> None:
    settings, keys = served

    def agent_with(base: str, secret: str) -> Any:
        headers = {"Authorization": f"Bearer {secret}"}
        return connected(
            lambda: streamable_http_client(
                f"{base}/mcp/", http_client=create_mcp_http_client(headers=headers)
            )
        )

    with serving(settings) as base:
        with agent_with(base, keys["write"]) as agent:
            built = agent.result("build_eval_set", set_name="mcp", count=2, keywords=True)
            assert built["cases"] >= 1 and built["name"] == "mcp"
            scored = agent.result("evaluate", set_name="mcp", answers=False)
            assert scored["metrics"]["recall@10"] is not None
            assert len(scored["cases"]) == built["cases"]
            report = agent.result("read_eval_report", set_name="mcp")
            assert report["markdown"].startswith("# Evaluation of collection `default`")
            sets = agent.result("list_eval_sets")["sets"]
            assert "mcp" in [s["name"] for s in sets]
            denied = agent.tool("list_traces")
            assert denied.is_error and "admin key" in _text(denied)
        with agent_with(base, keys["admin"]) as agent:
            traces = agent.result("list_traces", kind="ask")["traces"]
            masked = [t["attributes"]["mnemo.question"] for t in traces]
            assert not any(EMAIL in q for q in masked)
            tree = agent.result("show_trace", trace_id=traces[0]["trace_id"])
            assert tree["name"] == "ask" and tree["children"]
            assert agent.result("trace_drift")["reports"]
    assert (settings.home / "eval" / "default.mcp.jsonl").exists()


def test_cli_and_api_share_set_and_report_names(cli, home: Path, tmp_path: Path) -> None:
    write_projects(tmp_path / "docs", 4)
    cli("add", str(tmp_path / "docs"), check=True)
    cli("eval", "build", "-n", "4", check=True)
    cli("eval", "--retrieval-only", check=True)
    with Library(load_settings(home)) as library:
        from mnemo.eval import saved

        assert [(s.name, s.reports) for s in saved.list_sets(library)] == [("default", ["eval"])]
        assert "recall@10" in saved.read_report(library)


@pytest.mark.slow
def test_rest_and_mcp_tune_a_set_and_only_an_admin_keeps_the_result(
    tmp_path: Path,
) -> None:
    write_projects(tmp_path / "docs", 20)
    settings = load_settings(tmp_path / "home", {"ingest": {"workers": 1}})
    with Library(settings) as library:
        library.add([tmp_path / "docs"])
    with Catalog(settings.catalog_path) as catalog:
        keys = {scope: create_key(catalog, scope, scope)[1] for scope in ("write", "admin")}
    with (
        serving(settings) as url,
        _client(url, keys["write"]) as writer,
        _client(url, keys["admin"]) as admin,
    ):
        built = writer.post("/collections/default/eval/sets", json={"count": 24, "keywords": True})
        assert built.status_code == 201, built.text
        cases = built.json()["cases"]

        refused = writer.post("/collections/default/eval/tunings", json={"save": True})
        assert refused.status_code == 403  # keeping settings changes everyone's answers
        assert not (settings.home / "eval" / "default.tune.md").exists()

        tuned = writer.post("/collections/default/eval/tunings", json={})
        assert tuned.status_code == 200, tuned.text
        found = tuned.json()
        assert sum(found["sizes"]) == cases and min(found["sizes"]) >= 5
        assert {"current", "tuned", "dense only", "bm25 only"} <= set(found["test"])
        assert "search.dense_weight" in found["tuned"] and found["saved"] is False
        report = writer.get("/collections/default/eval/reports/default", params={"kind": "tune"})
        assert report.status_code == 200 and "held-out" in report.text.lower()

        kept = admin.post("/collections/default/eval/tunings", json={"save": True}).json()
        assert kept["saved"] is bool(kept["changes"])
        shown = writer.get("/collections/default/eval/reports").json()
        assert ("default", "tune") in [(r["set"], r["kind"]) for r in shown]

        headers = {"Authorization": f"Bearer {keys['write']}"}
        with connected(
            lambda: streamable_http_client(
                f"{url}/mcp/", http_client=create_mcp_http_client(headers=headers)
            )
        ) as agent:
            denied = agent.tool("tune_search", save=True)
            assert denied.is_error and "admin key" in _text(denied)
            again = agent.result("tune_search")
            assert set(again["tuned"]) == set(found["tuned"]) and again["saved"] is False

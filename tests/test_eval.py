"""`mnemo eval` on a small generated collection: a test set built from its passages
(keyword questions offline, questions and reference answers written by a scripted
model), answers judged bad included, retrieval and answers scored, a report written,
settings tuned on one half and kept per collection.

Real files and a real index in a temporary home; the language model is the scripted
local server of tests/llmserver.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evaldocs import write_projects
from llmserver import MODEL, Script, serve_openai
from mnemo import Library
from mnemo.config import load_settings
from mnemo.config.tuned import save_tuned
from mnemo.eval.build import build
from mnemo.eval.cases import load
from mnemo.eval.report import eval_markdown
from mnemo.eval.score import evaluate_cases
from mnemo.eval.tune import tune


def test_offline_set_report_and_a_feedback_case(cli, home: Path, tmp_path: Path) -> None:
    write_projects(tmp_path / "docs", 12)
    cli("add", str(tmp_path / "docs"), check=True)
    asked = json.loads(cli("ask", "Who funds Project Heron?", "--json", check=True).stdout)
    cli("feedback", "give", asked["message_id"], "--down", check=True)

    made = cli("eval", "build", "-n", "12", check=True)
    assert "keyword" in made.stdout and "feedback" in made.stdout
    cases = load(home / "eval" / "default.jsonl")
    keyword = [c for c in cases if c.origin == "keyword"]
    assert len(keyword) == 12 and all(len(c.chunk_ids) == 1 for c in keyword)
    assert len({c.document for c in keyword}) == 12  # one passage per document first
    assert [c.question for c in cases if c.origin == "feedback"] == ["Who funds Project Heron?"]

    scored = cli("eval", "--retrieval-only", "--json", check=True)
    metrics = json.loads(scored.stdout)["metrics"]
    assert metrics["recall@10"] >= 0.9 and 0 < metrics["ndcg@10"] <= 1
    assert metrics["search_ms_p50"] > 0
    report = Path(json.loads(scored.stdout)["report"])
    assert "nDCG@10" in report.read_text() and report.with_suffix(".html").exists()

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "fine"}\n{"question": "", "chunk_ids": []}\n')
    failed = cli("eval", "--set", str(broken))
    assert failed.returncode != 0
    assert f"{broken}, line 2: 'question' must be a non-empty string" in failed.stderr
    assert "Traceback" not in failed.stderr


def _scripted(body: dict[str, Any]) -> str:
    system = body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    if system.startswith("You write test questions"):
        name = re.search(r"[Pp]roject (\w+)", user)
        city = re.search(r"led from the (\w+) office", user)
        if name and city:
            question = f"From which office is Project {name.group(1)} led?"
            return json.dumps({"question": question, "answer": f"The {city.group(1)} office."})
        year = re.search(r"started in (\d{4})", user)
        if name and year:
            question = f"When did Project {name.group(1)} start?"
            return json.dumps({"question": question, "answer": f"In {year.group(1)}."})
        return '{"question": null}'
    if system.startswith("You grade answers"):
        reference = re.search(r"<reference>(.*?)</reference>", user, re.DOTALL)
        answer = re.search(r"<answer>(.*?)</answer>", user, re.DOTALL)
        assert reference and answer
        wanted = re.findall(r"\w+", reference.group(1).replace("The ", "").replace("In ", ""))
        return "YES" if all(w in answer.group(1) for w in wanted) else "NO"
    source = re.search(r'<source id="1"[^>]*>\n(.*?)\n</source>', user, re.DOTALL)
    assert source, "an answer prompt carries numbered sources"
    sentences = re.split(r"(?<=[.])\s+", source.group(1).split("\n\n")[-1])
    return f"{sentences[0]} [1]"


def test_model_written_set_is_scored_with_a_judge(tmp_path: Path) -> None:
    write_projects(tmp_path / "docs", 4)
    script = Script(replies=[_scripted] * 500)
    with serve_openai(script) as url:
        settings = load_settings(
            tmp_path / "home",
            {
                "ingest": {"workers": 1},
                "llm": {"provider": "openai-compatible", "model": MODEL, "base_url": url},
                "traces": {"prices": {MODEL: [1000.0, 2000.0]}},  # $ per million tokens
            },
        )
        with Library(settings) as library:
            library.add([tmp_path / "docs"])
            cases, notes = build(library, count=8)
            assert cases and all(c.origin == "generated" for c in cases)
            assert {c.question for c in cases} >= {"From which office is Project Falcon led?"}
            led = next(c for c in cases if c.question.endswith("Falcon led?"))
            assert led.reference == "The Lisbon office." and led.chunk_ids
            result = evaluate_cases(library, cases, answers=True)
    by_id = {c.id: c for c in result.cases}
    assert by_id[led.id].rank == 1
    assert result.metrics["context_recall"] == 1.0
    assert result.metrics["faithfulness"] is not None
    # The scripted model answers with the passage's first sentence: it names the office
    # (judged right) but not the year a project started (judged wrong).
    assert by_id[led.id].correctness == 1.0
    assert {c.correctness for c in result.cases if "start?" in c.question} == {0.0}
    assert 0 < result.metrics["correctness"] < 1
    judged = [r for r in script.requests if r["messages"][0]["content"].startswith("You grade")]
    assert any("The Lisbon office." in r["messages"][-1]["content"] for r in judged)
    assert "correctness (LLM judge)" in eval_markdown(result)
    # What the answers cost at the configured prices: every generated answer used tokens.
    assert result.metrics["tokens"] > 0
    assert result.metrics["cost_usd"] >= result.metrics["tokens"] * 1000 / 1e6
    assert "estimated cost" in eval_markdown(result)


@pytest.mark.slow
def test_tuning_reports_a_held_out_half_and_is_kept_per_collection(
    cli, home: Path, tmp_path: Path
) -> None:
    write_projects(tmp_path / "docs", 20)
    cli("add", str(tmp_path / "docs"), check=True)
    cli("eval", "build", "-n", "40", check=True)
    settings = load_settings(home, {"answer": {"rerank": False}})
    with Library(settings) as library:
        result = tune(library, load(home / "eval" / "default.jsonl"))
    tuned_on, held_out = result.sizes
    assert tuned_on >= 5 and held_out >= 5 and tuned_on + held_out == 40
    assert {"current", "tuned", "dense only", "bm25 only"} <= set(result.test)
    assert result.test["tuned"]["ndcg@10"] >= result.test["dense only"]["ndcg@10"] - 0.05
    assert set(result.chosen) == {
        "search.dense_weight",
        "search.candidates",
        "answer.neighbours",
        "answer.min_relevance",
    }

    # Kept for this collection only: its searches read 1 candidate per retriever.
    save_tuned(load_settings(home), "default", {"search.candidates": 1}, {"why": "test"})
    narrow = json.loads(cli("search", "Project Falcon budget", "--json", check=True).stdout)
    assert len(narrow["hits"]) <= 2
    cli("eval", "tune", "--reset", check=True)
    wide = json.loads(cli("search", "Project Falcon budget", "--json", check=True).stdout)
    assert len(wide["hits"]) > 2

"""The note graph, measured: graph-aware retrieval on a vault, graph upkeep, related notes,
near-duplicates.

1. **Retrieval.** The dbpedia passages become an Obsidian-shaped vault: one note
   per passage, named by its entity title (``Oceanic Airlines.md``), and the first
   mention of another passage's title in a note's text becomes a wikilink to it
   (``[[Lost]]``): links between passages that share an entity title. Mnemo
   indexes it with default settings; each query runs with graph-aware retrieval
   off and at a few weights, in the same run, scored by ranx (nDCG@10,
   recall@100) with a significance test against "off".
2. **Upkeep.** A synthetic vault of ``--notes`` notes (20,000) with random
   wikilinks, tags and missing links, indexed without embeddings: the time the
   graph pass of the first sync takes, then of a sync after one edit, and after
   one new note that resolves earlier missing links; ``Library.related``
   latency over 200 notes.
3. **Near-duplicates.** ``--planted`` dbpedia notes are copied with small edits
   into the retrieval vault; the digest's near-duplicate pairs are checked
   against the planted ones (precision and recall).

    python benchmarks/graph.py --json out.json
    python benchmarks/graph.py --skip-retrieval --notes 20000

Needs the bench extra (ranx).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import mnemo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import DATA, evaluate, load_set, percentile

WEIGHTS = [0.0, 0.1, 0.25, 0.5, 1.0]
_SAFE = re.compile(r'[\\/:*?"<>|#^\[\]]')


def note_name(title: str) -> str:
    return _SAFE.sub(" ", title).strip()[:120] or "untitled"


def write_vault(corpus: list[dict[str, str]], folder: Path) -> tuple[dict[str, str], int]:
    """One note per passage with wikilinks to passages whose title it mentions;
    returns note path -> passage id, and the number of links written."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for doc in corpus:
        base = name = note_name(doc.get("title") or doc["_id"])
        n = 1
        while name.lower() in taken:
            n += 1
            name = f"{base} ({n})"
        taken.add(name.lower())
        names[doc["_id"]] = name
    # titles worth linking: two words or more, or a long single word
    titles = {
        (doc.get("title") or "").strip(): doc["_id"]
        for doc in corpus
        if len((doc.get("title") or "").strip()) >= 6
    }
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True)) + r")\b"
    )
    paths: dict[str, str] = {}
    links = 0
    for doc in corpus:
        text = doc["text"]
        used: set[str] = set()

        def link(match: re.Match[str], doc: dict[str, str] = doc, used: set[str] = used) -> str:
            nonlocal links
            target = titles[match.group(1)]
            if target == doc["_id"] or target in used:
                return match.group(0)
            used.add(target)
            links += 1
            return f"[[{names[target]}|{match.group(1)}]]"

        body = f"# {doc.get('title') or names[doc['_id']]}\n\n{pattern.sub(link, text)}\n"
        path = folder / f"{names[doc['_id']]}.md"
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
        paths[str(path.resolve())] = doc["_id"]
    return paths, links


def run_queries(settings: mnemo.Settings, queries: dict[str, str], path_to_id: dict[str, str]):
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in queries.items():
        started = time.perf_counter()
        response = mnemo.search(text, settings, k=100)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked: dict[str, float] = {}
        for rank, hit in enumerate(response.hits):
            doc = path_to_id.get(hit.path)
            if doc is not None:
                ranked.setdefault(doc, 1000.0 - rank)
        run[qid] = ranked or {"__none__": 0.0}
    return run, latencies


def bench_retrieval(work: Path, planted: int) -> dict[str, Any]:
    from ranx import Qrels, Run, compare

    corpus, queries, qrels = load_set(DATA / "dbpedia")
    queries = {q: t for q, t in queries.items() if q in qrels}
    vault = work / "vault"
    path_to_id, links = write_vault(corpus, vault)
    dupes = plant_duplicates(corpus, vault, planted)
    home = work / "home"
    settings = mnemo.load_settings(home)
    started = time.perf_counter()
    report = mnemo.add([vault], settings)
    ingest_s = time.perf_counter() - started
    print(
        f"vault: {report.counts['indexed']} notes, {links} links, {ingest_s:.0f} s", file=sys.stderr
    )
    mnemo.search("warm up", settings)
    result: dict[str, Any] = {
        "notes": len(corpus),
        "links": links,
        "queries": len(queries),
        "ingest_seconds": round(ingest_s, 1),
        "graph_seconds_in_add": round(report.seconds.get("graph", 0.0), 2),
        "weights": {},
    }
    runs = {}
    for weight in WEIGHTS:
        tuned = mnemo.load_settings(home, {"graph": {"retrieval_weight": weight}})
        run, latencies = run_queries(tuned, queries, path_to_id)
        runs[weight] = run
        found = {
            **evaluate(qrels, run),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
        }
        result["weights"][str(weight)] = found
        print(f"  weight {weight}: {found}", file=sys.stderr)
    report_cmp = compare(
        Qrels(qrels),
        [Run(runs[w], name=f"w{w}") for w in WEIGHTS],
        ["ndcg@10"],
        stat_test="student",
    )
    result["significance"] = str(report_cmp)
    with mnemo.Library(settings) as library:
        found_pairs = near_duplicate_pairs(library)
    result["near_duplicates"] = score_pairs(found_pairs, dupes, vault)
    return result


def plant_duplicates(
    corpus: list[dict[str, str]], vault: Path, count: int
) -> list[tuple[str, str]]:
    """Copies of ``count`` notes with a word or two changed: (original, copy) file names."""
    rng = random.Random(7)
    pairs = []
    notes = sorted(p for p in vault.glob("*.md") if not p.name.startswith("copy of "))
    for original in rng.sample(notes, min(count, len(notes))):
        words = original.read_text().split(" ")
        for _ in range(2):
            i = rng.randrange(len(words))
            words[i] = words[i].upper()
        copy = vault / f"copy of {original.name}"
        copy.write_text(" ".join(words) + "\nCopied for a draft.\n")
        pairs.append((original.name, copy.name))
    return pairs


def near_duplicate_pairs(library: mnemo.Library) -> list[tuple[str, str]]:
    found = library.near_duplicates()
    return [(Path(p.first.path).name, Path(p.second.path).name) for p in found]


def score_pairs(
    found: list[tuple[str, str]], planted: list[tuple[str, str]], vault: Path
) -> dict[str, Any]:
    truth = {frozenset(p) for p in planted}
    got = {frozenset(p) for p in found}
    hits = len(truth & got)
    return {
        "planted": len(truth),
        "reported": len(got),
        "correct": hits,
        "precision": round(hits / len(got), 3) if got else None,
        "recall": round(hits / len(truth), 3) if truth else None,
        "false_pairs": [sorted(p) for p in list(got - truth)[:5]],
    }


def synthetic_vault(folder: Path, count: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "river",
        "stone",
        "cloud",
        "paper",
        "engine",
        "garden",
        "copper",
        "lamp",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        sub = folder / f"area{n % 50:02d}"
        sub.mkdir(exist_ok=True)
        links = " ".join(f"[[note {rng.randrange(count):05d}]]" for _ in range(rng.randint(1, 6)))
        missing = f" [[draft {rng.randrange(count * 2):05d}]]" if rng.random() < 0.1 else ""
        tags = " ".join(f"#{rng.choice(words)}" for _ in range(2))
        text = " ".join(rng.choice(words) for _ in range(60))
        (sub / f"note {n:05d}.md").write_text(f"# Note {n}\n\n{text}\n\n{links}{missing} {tags}\n")


def edit_pass(settings: mnemo.Settings, path: Path, repeat: int = 5) -> dict[str, float]:
    """The graph pass of one edited note, reading only what its links may name (``narrow``,
    what sync does) and reading every note (as before), interleaved in one run and rolled
    back: median seconds of each."""
    from sqlalchemy import select

    from mnemo.catalog.models import Document
    from mnemo.ingest.edges import update_edges

    times: dict[str, list[float]] = {"narrow": [], "every_note": []}
    with mnemo.Library(settings) as library, library.catalog.session() as session:
        doc = session.scalar(select(Document.id).where(Document.path == str(path.resolve())))
        coll = session.scalar(select(Document.collection_id).where(Document.id == doc))
        for _ in range(repeat):
            for name, narrow in (("narrow", True), ("every_note", False)):
                started = time.perf_counter()
                update_edges(session, coll, [doc], narrow=narrow)
                times[name].append(time.perf_counter() - started)
                session.rollback()
    return {k: round(statistics.median(v), 3) for k, v in times.items()}


def bench_upkeep(work: Path, count: int, reuse: bool = False) -> dict[str, Any]:
    vault = work / f"synthetic-{count}"
    home = work / f"home-synthetic-{count}"
    settings = mnemo.load_settings(home, {"embedding": {"backend": "none"}})
    result: dict[str, Any] = {"notes": count}
    if reuse and (home / "catalog.db").exists():  # a vault indexed by an earlier run
        (vault / "draft 99999.md").unlink(missing_ok=True)
        mnemo.sync(settings)
        result["reused"] = str(home)
    else:
        synthetic_vault(vault, count)
        started = time.perf_counter()
        first = mnemo.add([vault], settings)
        result["add_seconds"] = round(time.perf_counter() - started, 1)
        result["graph_first_sync_s"] = round(first.seconds.get("graph", 0.0), 2)
    edited = vault / "area07" / "note 00007.md"
    edited.write_text(edited.read_text() + "\nSee [[note 00008]] and [[draft 99999]].\n")
    report = mnemo.sync(settings)
    result["graph_after_one_edit_s"] = round(report.seconds.get("graph", 0.0), 3)
    result["edit_pass_median_s"] = edit_pass(settings, edited)
    (vault / "draft 99999.md").write_text("# Draft\n\nNow it exists.\n")
    report = mnemo.sync(settings)
    result["graph_after_one_new_note_s"] = round(report.seconds.get("graph", 0.0), 3)
    with mnemo.Library(settings) as library:
        started = time.perf_counter()
        library.rebuild_graph()
        result["graph_full_rebuild_s"] = round(time.perf_counter() - started, 2)
        library.related("note 00001.md")
        latencies = []
        for n in range(0, count, max(1, count // 200)):
            started = time.perf_counter()
            library.related(f"area{n % 50:02d}/note {n:05d}.md")
            latencies.append((time.perf_counter() - started) * 1000)
        backlinks = len(library.related("draft 99999.md").backlinks)
    result["resolved_missing_links_to_new_note"] = backlinks
    result["related_p50_ms"] = round(statistics.median(latencies), 1)
    result["related_p95_ms"] = round(percentile(latencies, 95), 1)
    print(f"upkeep: {result}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/mnemo-bench-graph"))
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--planted", type=int, default=50)
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--skip-upkeep", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="upkeep: keep the vault an earlier run indexed"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version()}
    if not args.skip_retrieval:
        result["retrieval"] = bench_retrieval(args.work, args.planted)
    if not args.skip_upkeep:
        result["upkeep"] = bench_upkeep(args.work, args.notes, args.reuse)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

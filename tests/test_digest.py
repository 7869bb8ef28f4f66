"""Insights: the digest (what changed, by topic, with what it connects to; missing
notes; near-duplicates; orphans), topics, resurfacing, and the scheduled digest."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

import mnemo
from mnemo.config import Settings

CATS = (
    "Cats sleep for most of the day, often sixteen hours, and they hunt small prey at dusk "
    "and dawn. A cat's whiskers sense the air around it, and its ears turn towards sounds. "
    "Domestic cats descend from the African wildcat and were kept for catching mice."
)
OLD = {
    "Cats.md": f"# Cats\n\n{CATS}\n\nSee [[Kittens]].\n",
    "Kittens.md": "# Kittens\n\nKittens open their eyes after a week. Back to [[Cats]].\n",
    "Rails.md": "# Rails\n\nSteam locomotives pull carriages on iron rails. See [[Stations]].\n",
    "Stations.md": "# Stations\n\nA railway station has platforms for locomotives. [[Rails]]\n",
    "Lonely.md": "# Lonely\n\nA note about marmalade that nothing links to.\n",
}
NEW = {
    "Felines.md": "# Felines\n\nBig and small felines; see [[Cats]] and [[Unwritten idea]].\n",
    "Cats draft.md": f"# Cats\n\n{CATS.replace('sixteen', '16')}\n\nSee [[Kittens]].\n",
}


def write(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)


def two_batches(tmp_path: Path, settings: Settings) -> tuple[Path, datetime]:
    vault = tmp_path / "vault"
    write(vault, OLD)
    mnemo.add([vault], settings)
    time.sleep(0.05)
    between = datetime.now(UTC)
    write(vault, NEW)
    mnemo.sync(settings)
    return vault, between


def test_digest_reports_changes_connections_and_problems(
    tmp_path: Path, settings: Settings
) -> None:
    _, between = two_batches(tmp_path, settings)
    with mnemo.Library(settings) as library:
        found = library.digest(between)
    changes = {Path(c.document.path).name: c for g in found.groups for c in g.changes}
    assert set(changes) == {"Felines.md", "Cats draft.md"}  # only what came after
    assert changes["Felines.md"].new
    assert [(Path(d.path).name, how) for d, how in changes["Felines.md"].connects_to] == [
        ("Cats.md", "links to")
    ]
    assert [(Path(m.document.path).name, m.missing) for m in found.missing] == [
        ("Felines.md", ["unwritten idea"])
    ]
    pairs = [(Path(p.first.path).name, Path(p.second.path).name) for p in found.duplicates]
    assert [tuple(sorted(p)) for p in pairs] == [("Cats draft.md", "Cats.md")]
    assert found.duplicates[0].similarity > 0.7
    assert [Path(o.path).name for o in found.orphans] == ["Lonely.md"]


def test_digest_command(tmp_path: Path, settings: Settings, cli) -> None:
    two_batches(tmp_path, settings)
    proc = cli("digest", "--since", "1h", env={"MNEMO_EMBEDDING__BACKEND": "none"})
    assert proc.returncode == 0, proc.stderr
    assert "Near-duplicates" in proc.stdout and "Cats draft.md" in proc.stdout
    assert "Orphans" in proc.stdout and "Lonely.md" in proc.stdout
    data = json.loads(cli("digest", "--since", "2026-01-01", "--json").stdout)
    assert len([c for g in data["groups"] for c in g["changes"]]) == 7
    bad = cli("digest", "--since", "last tuesday")
    assert bad.returncode == 2 and "7d" in bad.stderr and "Traceback" not in bad.stderr


def test_topics_group_connected_notes_with_keyword_labels(
    tmp_path: Path, settings: Settings
) -> None:
    two_batches(tmp_path, settings)
    with mnemo.Library(settings) as library:
        found = library.topics()
    groups = {frozenset(Path(d.path).name for d in t.documents): t for t in found}
    rails = groups[frozenset({"Rails.md", "Stations.md"})]
    assert {"locomotives", "rails", "railway", "station", "stations"} & set(rails.label.split(", "))
    cats = next(t for k, t in groups.items() if "Cats.md" in k)
    assert "Rails.md" not in {Path(d.path).name for d in cats.documents}
    assert "Lonely.md" not in {Path(d.path).name for t in found for d in t.documents}


def test_resurfacing_this_day_and_what_was_asked(tmp_path: Path, settings: Settings) -> None:
    vault, _ = two_batches(tmp_path, settings)
    now = date.today()
    then = datetime(now.year - 1, now.month, min(now.day, 28), 12, 0)
    os.utime(vault / "Lonely.md", (then.timestamp(), then.timestamp()))
    mnemo.sync(settings)
    today = date(now.year, now.month, then.day)
    with mnemo.Library(settings) as library:
        library.ask("how long do cats sleep", conversation_id=library.start_conversation("cats"))
        found = library.resurface(today=today)
    why = {Path(r.document.path).name: r.why for r in found}
    assert why["Lonely.md"] == "on this day 1 year ago"
    assert why.get("Kittens.md", "").startswith("related to Cats")


def test_serve_stores_a_digest_on_schedule(tmp_path: Path, make_settings) -> None:
    from fastapi.testclient import TestClient

    from mnemo.server.app import create_app

    settings = make_settings(graph={"digest_every_hours": 24})
    two_batches(tmp_path, settings)
    with TestClient(create_app(settings), base_url="http://127.0.0.1"):
        deadline = time.monotonic() + 60
        with mnemo.Library(settings) as library:
            while not library.stored_digests() and time.monotonic() < deadline:
                time.sleep(0.2)
            stored = library.stored_digests()
    assert len(stored) == 1
    names = {Path(d["path"]).name for d in stored[0]["body"]["orphans"]}
    assert names == {"Lonely.md"}
    off = make_settings()
    assert off.graph.digest_every_hours == 0

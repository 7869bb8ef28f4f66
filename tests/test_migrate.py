"""`mnemo migrate` (issue 19): a collection moves from the embedded default (SQLite +
LanceDB) to PostgreSQL + Milvus and back, vectors copied, nothing re-embedded,
checked by counts and by the same search results. Real PostgreSQL, real Milvus Lite,
a local embedding server that counts its requests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from embedserver import serve
from mnemo import api
from mnemo.config import Settings, load_settings
from pgcluster import new_database

Cli = Callable[..., subprocess.CompletedProcess[str]]

TOPICS = [
    "Volcanoes erupt molten lava and ash clouds over the island.",
    "Bees pollinate clover fields and make honey from nectar.",
    "Glaciers carve deep valleys as the ice sheets advance.",
    "The tide rises twice a day under the pull of the moon.",
    "Copper wires carry current between the two batteries.",
]
QUERIES = ["molten lava", "honey bees", "ice valleys", "moon tide", "battery current"]


def _notes(root: Path) -> Path:
    root.mkdir(parents=True)
    for n in range(25):
        text = TOPICS[n % len(TOPICS)]
        (root / f"note{n:02}.md").write_text(f"# Note {n}\n\n{text} Note {n} of the set.\n")
    return root


def _ranked(settings: Settings, mode: str) -> list[list[str]]:
    return [
        [Path(h.path).name for h in api.search(q, settings, k=5, mode=mode).hits] for q in QUERIES
    ]


@pytest.mark.parametrize("milvus", [True, False], ids=["milvus+postgres", "postgres"])
def test_migrate_there_and_back_without_re_embedding(
    tmp_path: Path, home: Path, cli: Cli, pg_server: str, milvus: bool
) -> None:
    pytest.importorskip("milvus_lite", reason="pip install 'mnemo[milvus]'")
    notes = _notes(tmp_path / "notes")
    url = new_database(pg_server)
    with serve() as (embed_url, script):
        embedding = {"backend": "openai-compatible", "model": "nomic-embed", "base_url": embed_url}
        env = {
            "MNEMO_EMBEDDING__BACKEND": "openai-compatible",
            "MNEMO_EMBEDDING__MODEL": "nomic-embed",
            "MNEMO_EMBEDDING__BASE_URL": embed_url,
        }
        here = load_settings(home, {"ingest": {"workers": 1}, "embedding": embedding})
        assert api.add([notes], here).embedding.embedded == 25
        before_dense, before_bm25 = _ranked(here, "dense"), _ranked(here, "bm25")

        to = ["--to", f"catalog.url={url}"]
        index = {"backend": "milvus"} if milvus else {}
        if milvus:
            to += ["--to", "index.backend=milvus"]
        script.down = True  # nothing may be embedded while moving
        requests = script.requests
        moved = cli("migrate", *to, env=env)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "copy verified" in moved.stdout and "default" in moved.stdout
        assert script.requests == requests
        script.down = False

        there = load_settings(
            home,
            {
                "ingest": {"workers": 1},
                "embedding": embedding,
                "catalog": {"url": url},
                "index": index,
            },
        )
        (status,) = api.status(there)
        assert status.chunks == 25 and status.index is not None
        assert status.index.text_rows == 25 and not status.index.problems
        assert [(e.state, e.embedded) for e in status.embeddings] == [("active", 25)]
        assert _ranked(there, "dense") == before_dense
        if not milvus:  # the same index: keyword results are the same too
            assert _ranked(there, "bm25") == before_bm25
        assert api.sync(there).embedding.embedded == 0

        # Back to the embedded default, from the copy, into a fresh home.
        back_home = tmp_path / "back"
        source = ["--set", f"catalog.url={url}"] + (
            ["--set", "index.backend=milvus"] if milvus else []
        )
        script.down = True
        requests = script.requests
        moved_back = cli(
            *source,
            "migrate",
            "--to-home",
            str(back_home),
            "--to",
            "catalog.url=",
            "--to",
            "index.backend=lancedb",
            env=env,
        )
        assert moved_back.returncode == 0, moved_back.stdout + moved_back.stderr
        assert script.requests == requests
        script.down = False
        again = load_settings(back_home, {"ingest": {"workers": 1}, "embedding": embedding})
        assert _ranked(again, "dense") == before_dense
        assert _ranked(again, "bm25") == before_bm25
        assert api.sync(again).embedding.embedded == 0


def test_migrate_refuses_a_target_that_is_the_source_or_holds_collections(
    tmp_path: Path, home: Path, cli: Cli, pg_server: str, settings: Settings
) -> None:
    api.add([_notes(tmp_path / "notes")], settings)
    same = cli("migrate", "--to", "index.backend=lancedb")
    assert same.returncode == 2 and "target is where the data already is" in same.stderr
    url = new_database(pg_server)
    assert cli("migrate", "--to", f"catalog.url={url}").returncode == 0
    again = cli("migrate", "--to", f"catalog.url={url}")
    assert again.returncode != 0 and "already holds collections" in again.stderr

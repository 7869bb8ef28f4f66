"""Killing a run at any moment leaves the catalog consistent; a rerun finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from embedserver import serve
from sqlalchemy import func, select

from mnemo.catalog import Catalog, Chunk, Document, Run
from mnemo.index.lance import TEXT, LanceStore

pytestmark = pytest.mark.slow  # real processes killed mid-run, 160 files each

# These runs embed through a local server speaking the OpenAI protocol: fast,
# so that the tests are about crashes, not about the model's speed.
EMBED_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _embedding_server() -> object:
    with serve() as (url, _):
        EMBED_ENV.update(
            MNEMO_EMBEDDING__BACKEND="openai-compatible",
            MNEMO_EMBEDDING__MODEL="nomic-embed",
            MNEMO_EMBEDDING__BASE_URL=url,
        )
        yield
        EMBED_ENV.clear()

N_FILES = 160


def make_corpus(root: Path) -> None:
    root.mkdir()
    for i in range(N_FILES):
        body = "\n\n".join(
            f"## Part {j}\n\nNote {i} part {j}: " + " ".join(f"word{(i * 7 + j * 3 + k) % 97}" for k in range(90))
            for j in range(6)
        )
        (root / f"note-{i:03}.md").write_text(f"# Note {i}\n\n{body}\n")


def catalog_snapshot(home: Path, corpus: Path) -> set[tuple[str, int, str, str]]:
    with Catalog(home / "catalog.db") as catalog, catalog.session() as session:
        rows = session.execute(
            select(Document.path, Chunk.ordinal, Chunk.text_hash, Document.status)
            .join(Chunk, Chunk.document_id == Document.id)
        )
        return {(os.path.relpath(p, corpus), o, h, s) for p, o, h, s in rows}


def assert_consistent(home: Path) -> None:
    """Every document's recorded chunk count matches its chunks; no orphan chunks."""
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        counts = dict(
            session.execute(select(Chunk.document_id, func.count()).group_by(Chunk.document_id)).all()
        )
        docs = session.execute(select(Document.id, Document.chunk_count, Document.status)).all()
        for doc_id, chunk_count, status in docs:
            assert counts.get(doc_id, 0) == chunk_count
            assert status in ("indexed", "skipped", "failed")
        assert set(counts) <= {d[0] for d in docs}


def assert_index_agrees(home: Path) -> None:
    """The search index holds exactly the catalog's chunks, each with one vector."""
    with Catalog(home / "catalog.db") as catalog, catalog.session(readonly=True) as session:
        expected = set(
            session.scalars(
                select(Chunk.id).join(Document).where(Document.status == "indexed")
            )
        )
    store = LanceStore(home / "index" / "default")
    assert store.ids(TEXT) == expected and store.count(TEXT) == len(expected)
    (vectors,) = store.vector_tables()
    assert store.ids(vectors) == expected and store.count(vectors) == len(expected)


def mnemo(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env.update(MNEMO_HOME=str(home), MNEMO_INGEST__WORKERS="1", **EMBED_ENV)
    return subprocess.Popen(
        [sys.executable, "-m", "mnemo", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def indexed_count(home: Path) -> int:
    if not (home / "catalog.db").exists():
        return 0
    try:
        with Catalog(home / "catalog.db") as catalog, catalog.session() as session:
            return session.scalar(select(func.count(Document.id))) or 0
    except Exception:  # the catalog may still be being created
        return 0


def test_kill_mid_run_then_rerun_matches_a_clean_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    crashed, clean = tmp_path / "crashed-home", tmp_path / "clean-home"

    proc = mnemo(crashed, "add", str(corpus))
    deadline = time.monotonic() + 120
    while indexed_count(crashed) < 20:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = indexed_count(crashed)
    assert 20 <= partial < N_FILES
    assert_consistent(crashed)

    rerun = mnemo(crashed, "add", str(corpus))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert f"{N_FILES - partial} indexed, {partial} unchanged" in out.decode()

    done = mnemo(clean, "add", str(corpus))
    done.communicate(timeout=300)
    assert done.returncode == 0
    assert_consistent(crashed)
    assert catalog_snapshot(crashed, corpus) == catalog_snapshot(clean, corpus)
    assert_index_agrees(crashed)
    assert_index_agrees(clean)
    with Catalog(crashed / "catalog.db") as catalog, catalog.session() as session:
        statuses = [r.status for r in session.scalars(select(Run).order_by(Run.id))]
    assert statuses == ["interrupted", "completed"]


def test_readers_never_see_a_half_written_document(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    home = tmp_path / "home"
    proc = mnemo(home, "add", str(corpus))
    problems: list[str] = []
    checks = 0

    def read_while_writing() -> None:
        nonlocal checks
        while proc.poll() is None:
            if not (home / "catalog.db").exists():
                continue
            try:
                assert_consistent(home)
                checks += 1
            except AssertionError as exc:
                problems.append(str(exc))
            except Exception:
                continue  # catalog not created yet

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    proc.communicate(timeout=300)
    reader.join()
    assert proc.returncode == 0
    assert checks > 5 and not problems

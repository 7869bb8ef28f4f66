"""Incremental sync: unchanged, touched, edited, deleted, renamed, moved, globs, sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import catalog_backends
from sqlalchemy import select

from mnemo import api
from mnemo.catalog import Chunk, Document
from mnemo.catalog.db import open_catalog
from mnemo.config import Settings
from mnemo.errors import CollectionError, IndexDamagedError, SourceError


@pytest.fixture
def catalog_url(request: pytest.FixtureRequest) -> str | None:
    """SQLite; PostgreSQL too for the tests marked ``both_catalogs`` (issue 19)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    return catalog_backends(request)


#: The sync cases that also run on PostgreSQL (all of them would double the module's time).
both_catalogs = pytest.mark.parametrize("catalog_url", ["sqlite", "postgres"], indirect=True)


def note(title: str, *paragraphs: str) -> str:
    return f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"


def chunks_by_path(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """path -> [(chunk id, text)] in order."""
    with open_catalog(settings) as catalog, catalog.session() as session:
        rows = session.execute(
            select(Document.path, Chunk.id, Chunk.text)
            .join(Chunk, Chunk.document_id == Document.id)
            .order_by(Document.path, Chunk.ordinal)
        )
        found: dict[str, list[tuple[str, str]]] = {}
        for path, chunk, text in rows:
            found.setdefault(path, []).append((chunk, text))
        return found


def doc_ids(settings: Settings) -> dict[str, str]:
    with open_catalog(settings) as catalog, catalog.session() as session:
        return dict(session.execute(select(Document.path, Document.id)).all())


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "projects").mkdir(parents=True)
    (root / "a.md").write_text(note("Alpha", "Alpha talks about apples.", "Second alpha paragraph."))
    (root / "b.txt").write_text("Bananas are yellow and grow in bunches.\n")
    (root / "projects" / "c.md").write_text(note("Cherry", "Cherries are red."))
    return root


@both_catalogs
def test_first_add_indexes_everything(vault: Path, settings: Settings) -> None:
    report = api.add([vault], settings)
    assert report.counts["indexed"] == 3 and report.exit_code == 0
    chunks = chunks_by_path(settings)
    assert set(chunks) == {str(vault / "a.md"), str(vault / "b.txt"), str(vault / "projects/c.md")}
    assert any("apples" in text for _, text in chunks[str(vault / "a.md")])


@both_catalogs
def test_unchanged_files_are_not_read_again(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    before = chunks_by_path(settings)
    report = api.sync(settings)
    assert report.counts["unchanged"] == 3
    assert report.counts["indexed"] == 0 and report.bytes_read == 0
    assert "parse" not in report.seconds
    assert chunks_by_path(settings) == before


def test_touched_file_is_hashed_but_not_parsed(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    before = chunks_by_path(settings)
    path = vault / "a.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    report = api.sync(settings)
    assert report.counts["unchanged"] == 3 and report.counts["indexed"] == 0
    assert report.bytes_read > 0 and "parse" not in report.seconds
    assert chunks_by_path(settings) == before
    assert api.sync(settings).bytes_read == 0  # the new mtime was remembered


@both_catalogs
def test_edit_replaces_only_changed_chunks(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(chunking={"max_tokens": 40, "overlap_tokens": 0})
    path = tmp_path / "notes" / "long.md"
    path.parent.mkdir()
    sections = [note(f"Section {i}", f"Body of section {i} with enough words to matter.") for i in range(6)]
    path.write_text("".join(sections))
    api.add([path.parent], settings)
    before = dict(chunks_by_path(settings)[str(path)])
    sections[3] = note("Section 3", "This section was rewritten completely today.")
    path.write_text("".join(sections))
    report = api.sync(settings)
    assert report.counts["indexed"] == 1
    after = dict(chunks_by_path(settings)[str(path)])
    kept = set(before) & set(after)
    assert len(kept) == len(before) - 1  # every other section's chunk kept its id
    assert any("rewritten" in text for text in after.values())
    assert not any("Body of section 3" in text for text in after.values())
    assert report.chunks_written == 1


@both_catalogs
def test_deleted_file_is_removed(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    (vault / "b.txt").unlink()
    report = api.sync(settings)
    assert report.counts["removed"] == 1
    assert str(vault / "b.txt") not in chunks_by_path(settings)
    assert [d.path for d in api.documents(settings)] == sorted(
        [str(vault / "a.md"), str(vault / "projects/c.md")]
    )


@both_catalogs
def test_rename_and_move_keep_document_and_chunks(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    ids, chunks = doc_ids(settings), chunks_by_path(settings)
    (vault / "archive").mkdir()
    (vault / "a.md").rename(vault / "archive" / "alpha-renamed.md")
    (vault / "projects" / "c.md").rename(vault / "c.md")
    report = api.sync(settings)
    assert report.counts["moved"] == 2
    assert report.counts["removed"] == 0 and report.counts["indexed"] == 0
    assert "parse" not in report.seconds
    new_ids, new_chunks = doc_ids(settings), chunks_by_path(settings)
    assert new_ids[str(vault / "archive/alpha-renamed.md")] == ids[str(vault / "a.md")]
    assert new_ids[str(vault / "c.md")] == ids[str(vault / "projects/c.md")]
    assert new_chunks[str(vault / "archive/alpha-renamed.md")] == chunks[str(vault / "a.md")]
    moved = {o.path: o.reason for o in report.outcomes if o.outcome == "moved"}
    assert moved[str(vault / "c.md")] == f"from {vault / 'projects/c.md'}"


def test_copy_of_a_file_is_a_new_document(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    (vault / "copy.md").write_bytes((vault / "a.md").read_bytes())
    report = api.sync(settings)
    assert report.counts["indexed"] == 1 and report.counts["moved"] == 0
    assert len(doc_ids(settings)) == 4


def test_new_files_are_picked_up(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    (vault / "projects" / "d.txt").write_text("Dates are sweet.\n")
    report = api.sync(settings)
    assert report.counts["indexed"] == 1 and report.counts["unchanged"] == 3


def test_missing_source_folder_removes_nothing(vault: Path, tmp_path: Path, settings: Settings) -> None:
    api.add([vault], settings)
    vault.rename(tmp_path / "unmounted")
    report = api.sync(settings)
    assert report.counts["removed"] == 0
    assert report.exit_code == 1
    assert "source not found" in (report.failed[0].reason or "")
    assert len(doc_ids(settings)) == 3


def test_changed_chunk_settings_rechunk(vault: Path, home: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    api.add([vault], make_settings())
    report = api.sync(make_settings(chunking={"max_tokens": 64, "overlap_tokens": 0}))
    assert report.counts["indexed"] == 3


def test_include_exclude_hidden_and_ignore_files(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "src"
    (root / "drafts").mkdir(parents=True)
    (root / ".obsidian").mkdir()
    (root / "build").mkdir()
    (root / "keep.md").write_text("# Keep\n\nkeep me\n")
    (root / "other.txt").write_text("not markdown\n")
    (root / "drafts" / "draft.md").write_text("# Draft\n\nwip\n")
    (root / ".obsidian" / "workspace.md").write_text("# ui state\n")
    (root / ".hidden.md").write_text("# hidden\n")
    (root / "build" / "out.md").write_text("# generated\n")
    (root / ".gitignore").write_text("build/\n")
    report = api.add([root], settings, include=["*.md"], exclude=["drafts/"])
    assert [d.path for d in api.documents(settings)] == [str(root / "keep.md")]
    assert report.excluded >= 5
    # The globs are remembered by the source, so sync applies them again.
    (root / "drafts" / "second.md").write_text("# Also draft\n")
    (root / "new.md").write_text("# New\n\nfresh\n")
    api.sync(settings)
    assert [d.path for d in api.documents(settings)] == [str(root / "keep.md"), str(root / "new.md")]


def test_hidden_files_when_enabled(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "src"
    root.mkdir()
    (root / ".hidden.md").write_text("# hidden\n\nsecret\n")
    settings = make_settings(ingest={"include_hidden": True})
    api.add([root], settings)
    assert [d.path for d in api.documents(settings)] == [str(root / ".hidden.md")]


@both_catalogs
def test_collections_are_kept_apart(vault: Path, tmp_path: Path, settings: Settings) -> None:
    other = tmp_path / "papers"
    other.mkdir()
    (other / "p.txt").write_text("A paper about proteins.\n")
    api.add([vault], settings)
    api.add([other], settings, collection="papers")
    status = {s.name: s for s in api.status(settings)}
    assert status["default"].documents["indexed"] == 3
    assert status["papers"].documents["indexed"] == 1
    assert [d.path for d in api.documents(settings, collection="papers")] == [str(other / "p.txt")]
    with pytest.raises(CollectionError, match="no collection named 'nope'"):
        api.documents(settings, collection="nope")


@both_catalogs
def test_remove_source_forgets_its_documents(vault: Path, tmp_path: Path, settings: Settings) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("extra file\n")
    api.add([vault, extra], settings)
    assert api.remove_source(str(vault), settings) == 3
    assert [d.path for d in api.documents(settings)] == [str(extra)]
    with pytest.raises(SourceError, match="not a source"):
        api.remove_source(str(vault), settings)


def test_add_nonexistent_path_is_an_error(settings: Settings) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        api.add(["/definitely/not/here"], settings)


@both_catalogs
def test_runs_are_recorded(vault: Path, settings: Settings) -> None:
    api.add([vault], settings)
    (vault / "b.txt").unlink()
    api.sync(settings)
    (status,) = api.status(settings)
    assert status.last_run is not None
    assert status.last_run.command == "sync" and status.last_run.status == "completed"
    assert status.last_run.counts["removed"] == 1


def test_worker_processes_give_the_same_result(tmp_path: Path, home: Path) -> None:
    from mnemo.config import load_settings

    root = tmp_path / "many"
    root.mkdir()
    for i in range(24):
        (root / f"n{i:02}.md").write_text(note(f"Note {i}", f"Text number {i} " * 20))
    pooled = load_settings(home, {"ingest": {"workers": 2}})
    single = load_settings(tmp_path / "other-home", {"ingest": {"workers": 1}})
    assert api.add([root], pooled).counts["indexed"] == 24
    api.add([root], single)
    texts = lambda s: {Path(p).name: [t for _, t in c] for p, c in chunks_by_path(s).items()}  # noqa: E731
    assert texts(pooled) == texts(single)


def test_an_index_that_cannot_open_fails_the_run_and_the_next_run_works(
    tmp_path: Path, settings: Settings
) -> None:
    # The index opens while workers parse; its failure still stops the run with a reason.
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Apples\n\nApples are red and grow on trees.\n")
    blocker = settings.index_path / settings.collection
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the index folder should be")
    with pytest.raises(IndexDamagedError, match="mnemo reindex"):
        api.add([notes], settings)
    blocker.unlink()
    report = api.add([notes], settings)
    assert report.counts["indexed"] == 1
    assert [h.path for h in api.search("apples", settings).hits] == [str(notes / "a.md")]

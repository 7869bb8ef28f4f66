"""A job with allowed_roots reads only files that, once opened, lie inside them.

These call extract() with a Job directly, on real files and symlinks in tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnemo.ingest.confine import OutsideRoots, open_document, resolved_if_same
from mnemo.ingest.extract import Job, extract, file_sha256

SECRET = "top secret content that must never be read\n"


def _job(path: Path, roots: tuple[str, ...]) -> Job:
    return Job(
        path=str(path),
        size=path.stat().st_size if path.exists() else 0,
        known_hash=None,
        max_bytes=10_000_000,
        max_pages=100,
        max_chunks=1000,
        max_tokens=200,
        overlap_tokens=30,
        tokenizer=None,
        allowed_roots=roots,
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, tuple[str, ...]]:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (allowed / "note.md").write_text("# Note\n\nAllowed text.\n")
    return allowed, outside, (os.path.realpath(allowed),)


def test_a_file_inside_the_roots_is_indexed(layout: tuple[Path, Path, tuple[str, ...]]) -> None:
    allowed, _, roots = layout
    result = extract(_job(allowed / "note.md", roots))
    assert result.status == "indexed"
    assert file_sha256(str(allowed / "note.md"), roots) == result.content_hash


def test_a_symlink_out_of_the_roots_fails_without_reading(
    layout: tuple[Path, Path, tuple[str, ...]],
) -> None:
    allowed, outside, roots = layout
    link = allowed / "innocent.txt"
    link.symlink_to(outside / "secret.txt")
    result = extract(_job(link, roots))
    assert result.status == "failed"
    assert result.reason == (
        "resolves outside the folders this server may read (server.allowed_roots): "
        f"{os.path.realpath(outside / 'secret.txt')}"
    )
    assert result.content_hash is None and not result.chunks
    assert file_sha256(str(link), roots) is None
    assert file_sha256(str(link)) is not None  # no roots: anything readable


def test_a_file_swapped_for_a_link_after_discovery_fails(
    layout: tuple[Path, Path, tuple[str, ...]],
) -> None:
    allowed, outside, roots = layout
    path = allowed / "report.txt"
    path.write_text("harmless when it was found\n")
    job = _job(path, roots)  # what discovery saw: a plain file inside the root
    path.unlink()
    path.symlink_to(outside / "secret.txt")  # swapped before the worker opens it
    result = extract(job)
    assert result.status == "failed"
    assert "server.allowed_roots" in (result.reason or "")
    assert not result.chunks


def test_the_sniffing_read_is_confined_too(layout: tuple[Path, Path, tuple[str, ...]]) -> None:
    allowed, outside, roots = layout
    link = allowed / "NOEXTENSION"  # no extension: the first bytes are read to decide
    link.symlink_to(outside / "secret.txt")
    result = extract(_job(link, roots))
    assert result.status == "failed" and "server.allowed_roots" in (result.reason or "")


def test_a_folder_symlinked_out_is_refused(layout: tuple[Path, Path, tuple[str, ...]]) -> None:
    allowed, outside, roots = layout
    (allowed / "mirror").symlink_to(outside, target_is_directory=True)
    result = extract(_job(allowed / "mirror" / "secret.txt", roots))
    assert result.status == "failed" and "server.allowed_roots" in (result.reason or "")


def test_a_fifo_does_not_block_the_worker(layout: tuple[Path, Path, tuple[str, ...]]) -> None:
    allowed, _, roots = layout
    fifo = allowed / "pipe.txt"
    os.mkfifo(fifo)
    result = extract(_job(fifo, roots))
    assert result.status == "failed"
    assert "not a regular file" in (result.reason or "")


def test_the_portable_check_compares_the_opened_file_with_the_resolved_path(
    layout: tuple[Path, Path, tuple[str, ...]],
) -> None:
    allowed, outside, roots = layout
    path = allowed / "swap.txt"
    path.write_text("inside\n")
    fd = open_document(str(path), roots)
    try:
        assert resolved_if_same(fd, str(path)) == os.path.realpath(path)
        path.unlink()
        path.symlink_to(outside / "secret.txt")  # now the name points elsewhere
        with pytest.raises(OutsideRoots):
            resolved_if_same(fd, str(path))
    finally:
        os.close(fd)

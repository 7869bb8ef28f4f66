"""Finding the files under a source: globs, hidden files, ignore files, symbolic links.

The walk is iterative (any depth), visits each directory once (so symlink
loops end), and reports what it could not use instead of dropping it. With a
:class:`Confinement`, a symbolic link is followed only when what it points to
resolves inside the confinement's roots; the others are reported, not read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from mnemo.config import IngestSettings
from mnemo.ingest.confine import is_within

IGNORE_FILES = (".gitignore", ".mnemoignore")


@dataclass(frozen=True)
class Confinement:
    """Where the files of a walk may really be: ``roots`` are resolved (realpath) folders."""

    roots: tuple[str, ...]
    reason: str  # why a link that leaves them is not followed, said to the user

    def admits(self, real: str) -> bool:
        return is_within(real, self.roots)


@dataclass(frozen=True)
class Candidate:
    path: str  # absolute, as reached from the source root (symlinks not resolved)
    size: int
    mtime_ns: int


@dataclass
class Discovery:
    files: list[Candidate] = field(default_factory=list)
    excluded: int = 0  # hidden, ignored or outside the globs
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _spec(patterns: Sequence[str]) -> pathspec.PathSpec | None:
    return pathspec.GitIgnoreSpec.from_lines(patterns) if patterns else None


def _read_ignore(directory: str) -> pathspec.PathSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                lines += f.read().splitlines()
        except OSError:
            continue
    return _spec(lines)


def discover(
    root: Path,
    include: Sequence[str],
    exclude: Sequence[str],
    settings: IngestSettings,
    within: Sequence[str] | None = None,
    confine: Confinement | None = None,
) -> Discovery:
    """Every file under ``root`` that the settings and globs select.

    With ``within`` (absolute paths under ``root``), only those paths and what
    lies below them are visited, judged by the same rules as a full walk. With
    ``confine``, symbolic links that resolve outside its roots are reported as
    problems and not followed (``root`` itself must resolve inside them too).
    """
    found = Discovery()
    root_str = os.path.abspath(root)
    if confine is not None and not confine.admits(os.path.realpath(root_str)):
        found.problems.append((root_str, confine.reason))
        return found
    try:
        info = os.stat(root_str) if settings.symlinks != "skip" else os.lstat(root_str)
    except OSError as exc:
        found.problems.append((root_str, f"cannot read ({exc.strerror})"))
        return found
    if stat.S_ISREG(info.st_mode):
        found.files.append(Candidate(root_str, info.st_size, info.st_mtime_ns))
        return found
    if not stat.S_ISDIR(info.st_mode):
        found.problems.append((root_str, "not a regular file or folder"))
        return found

    include_spec, exclude_spec = _spec(include), _spec(exclude)
    seen_dirs = {(info.st_dev, info.st_ino)}
    seen_files: dict[tuple[int, int], str] = {}
    ignores: list[tuple[str, pathspec.PathSpec]] = []
    stack: list[tuple[str, list[tuple[str, pathspec.PathSpec]]]] = [(root_str, ignores)]
    while stack:
        directory, inherited = stack.pop()
        specs = list(inherited)
        if settings.respect_ignore_files:
            local = _read_ignore(directory)
            if local is not None:
                specs.append((directory, local))
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            found.problems.append((directory, f"cannot read folder ({exc.strerror})"))
            continue
        subdirs: list[str] = []
        for entry in entries:
            path = entry.path
            if within is not None and not _relevant(path, within):
                continue
            if entry.name.startswith(".") and not settings.include_hidden:
                found.excluded += 1
                continue
            try:
                if entry.is_symlink():
                    if settings.symlinks == "skip":
                        found.excluded += 1
                        continue
                    if confine is not None and not confine.admits(os.path.realpath(path)):
                        found.problems.append((path, confine.reason))
                        continue
                info = entry.stat(follow_symlinks=True)
            except OSError as exc:
                reason = "broken symbolic link" if entry.is_symlink() else exc.strerror
                found.problems.append((path, f"cannot read ({reason})"))
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            rel = os.path.relpath(path, root_str).replace(os.sep, "/") + ("/" if is_dir else "")
            if _ignored(path, is_dir, specs) or (exclude_spec and exclude_spec.match_file(rel)):
                found.excluded += 1
                continue
            key = (info.st_dev, info.st_ino)
            if is_dir:
                if key in seen_dirs:
                    found.problems.append((path, "symbolic link loop: folder already visited"))
                    continue
                seen_dirs.add(key)
                subdirs.append(path)
            elif stat.S_ISREG(info.st_mode):
                if include_spec and not include_spec.match_file(rel):
                    found.excluded += 1
                elif key in seen_files:
                    found.problems.append((path, f"same file as {seen_files[key]} (linked)"))
                else:
                    seen_files[key] = path
                    found.files.append(Candidate(path, info.st_size, info.st_mtime_ns))
            else:
                found.problems.append((path, "not a regular file (device, socket or pipe)"))
        stack.extend((sub, specs) for sub in reversed(subdirs))
    return found


def _relevant(path: str, within: Sequence[str]) -> bool:
    """``path`` is one of ``within``, below one, or a folder on the way to one."""
    for target in within:
        if path == target or target.startswith(path + os.sep) or path.startswith(target + os.sep):
            return True
    return False


def _ignored(path: str, is_dir: bool, specs: list[tuple[str, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        rel = os.path.relpath(path, base).replace(os.sep, "/") + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False

"""Open a document only if the file actually opened lies inside the allowed folders.

Checking a path and then opening it leaves a gap in which a symlink can be
swapped to point elsewhere. So the file is opened first and the *opened* file
is checked: on Linux by the path the kernel gives for the descriptor
(``/proc/self/fd/N``); elsewhere by resolving the path and comparing the
device and inode of what it names with those of the open descriptor.
"""

from __future__ import annotations

import errno
import os
import stat

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the worker
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_PROC_FD = "/proc/self/fd"


class OutsideRoots(Exception):
    """The opened file is not inside any allowed root (its content was not read)."""

    def __init__(self, real: str) -> None:
        super().__init__(
            f"resolves outside the folders this server may read (server.allowed_roots): {real}"
        )
        self.real = real


def is_within(path: str, roots: tuple[str, ...]) -> bool:
    """``path`` is one of ``roots`` or below one (all already resolved)."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _opened_path(fd: int, path: str) -> str:
    """Where the open descriptor ``fd`` (opened from ``path``) really is."""
    if os.path.isdir(_PROC_FD):
        return os.readlink(f"{_PROC_FD}/{fd}")
    return resolved_if_same(fd, path)


def resolved_if_same(fd: int, path: str) -> str:
    """``path`` resolved, if it still names the file open as ``fd``; else OutsideRoots."""
    real = os.path.realpath(path)
    opened, named = os.fstat(fd), os.stat(real)
    if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
        raise OutsideRoots(f"{real} (the file changed while it was being opened)")
    return real


def open_document(path: str, roots: tuple[str, ...] = ()) -> int:
    """A read-only descriptor for ``path``; with ``roots``, only if it lies inside one.

    Raises OutsideRoots (nothing read), or OSError if it cannot be opened.
    """
    fd = os.open(path, _FLAGS)
    try:
        if roots:
            real = _opened_path(fd, path)
            if not is_within(real, roots):
                raise OutsideRoots(real)
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", path)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file: a FIFO, device or socket", path)
    except BaseException:
        os.close(fd)
        raise
    return fd

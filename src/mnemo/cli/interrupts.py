"""Ctrl-C in the `mnemo` command: the first stops the work cleanly, a second at once.

The first SIGINT raises KeyboardInterrupt as Python's own handler does, so the work
unwinds: catalog transactions roll back, parser processes are stopped, the run is
marked interrupted and the next run redoes what was left. Then the process ends
without the interpreter's finalization (:func:`leave`): what it wrote is in committed
transactions already, and exit-time work (atexit hooks, native runtimes' threads
calling into a finalizing interpreter, collecting every object) could only delay or
hang an exit the user asked for. If the clean-up is still going when a second SIGINT
comes, the process ends at once with 130; the next run finds the catalog consistent.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
_FORCED = b"interrupted again: stopped at once\n"


class _Handler:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            try:
                os.write(2, _FORCED)
            finally:
                os._exit(INTERRUPTED)
        raise KeyboardInterrupt


_handler: _Handler | None = None
_told = False


def install() -> None:
    """Handle SIGINT as described above, for this process (the real command only).

    Left alone where SIGINT is ignored (a job started with ``nohup`` or ``&``) or
    handled by someone else, and outside the main thread (where no handler can be set).
    """
    global _handler
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    _handler = _Handler()
    signal.signal(signal.SIGINT, _handler)


def interrupted() -> bool:
    """Whether a Ctrl-C has come (even one a library caught and turned into a clean stop)."""
    return _handler is not None and _handler.count > 0


def tell(message: str) -> None:
    """Say what a Ctrl-C left behind, instead of the plain "interrupted" line."""
    global _told
    from mnemo.cli.render import err

    err.print(message, markup=False)
    _told = True


def told() -> bool:
    """Whether the command has said what its interruption left behind (asked once, at
    the end of a command: the answer is reset for the next one)."""
    global _told
    answer, _told = _told, False
    return answer


def leave(code: int) -> None:
    """End the process now with ``code``, after flushing what it printed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

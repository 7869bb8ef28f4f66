"""A parser process: runs :func:`extract` on jobs sent over a pipe, within a memory budget.

The parent (:mod:`mnemo.ingest.pool`) starts it, sends it one job at a time and
enforces the time budget. The memory budget is the process's own limit
(``RLIMIT_DATA`` on Linux: heap and private mappings, which is where parsers
put what they inflate); past it, allocations fail, Python raises MemoryError
and the file is reported, then this process exits so the next file starts in
a fresh one. A native library that aborts instead dies, and the parent reports
that too.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from multiprocessing.connection import Connection

from mnemo.ingest.extract import Extracted, Job, extract
from mnemo.ingest.parsers.base import report_time_to

#: A message asking the parent for more time on the current file (see ``need_time``).
MORE_TIME = "more-time"

#: Imported once by the fork server, so each worker starts with them loaded. Not
#: "__main__": workers never run the calling program (see pool._main_hidden).
PRELOAD = (
    "mnemo.ingest.worker",
    "lxml.html",
    "docx",
    "pypdfium2",
    "trafilatura",
    "semantic_text_splitter",
    "tokenizers",
    "charset_normalizer",
)


#: A file that fails after the process's peak memory grew past this share of
#: the budget is reported as out of memory.
_NEAR_LIMIT = 0.9


def limit_memory(megabytes: int) -> None:
    kind = resource.RLIMIT_DATA if sys.platform.startswith("linux") else resource.RLIMIT_AS
    _, hard = resource.getrlimit(kind)
    wanted = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(kind, (wanted, hard))


def peak_rss_kb() -> int:
    """This process's peak resident memory so far, in KiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def out_of_memory(job: Job, megabytes: int) -> Extracted:
    return Extracted(
        path=job.path,
        status="failed",
        size=job.size,
        reason=f"the parser ran out of its {megabytes:,} MB memory budget "
        "(raise ingest.max_worker_memory_mb to index it)",
    )


class _MemoryWatch:
    """Notices allocations that failed where the parser could not raise MemoryError.

    lxml meets a failed allocation inside libxml2's error callback, reports it
    as "unraisable" and then raises a vague XMLSyntaxError ("unknown error");
    seeing the MemoryError here tells the file's real reason.
    """

    def __init__(self) -> None:
        self.hit = False
        sys.unraisablehook = self._hook

    def _hook(self, unraisable: sys.UnraisableHookArgs) -> None:
        if issubclass(unraisable.exc_type, MemoryError):
            self.hit = True
            return
        sys.__unraisablehook__(unraisable)


def serve(conn: Connection, memory_mb: int) -> None:
    """Answer each job with (result, retiring) until told to stop (None) or out of memory."""
    # Ctrl-C reaches the whole process group: the parent decides (it stops its
    # workers), so a parse is never cut short and reported as a crash of its file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(memory_mb)
    # One worker per core already: tokenizer threads in each would only
    # oversubscribe the cores, and their stacks would count against the budget.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's threads, for the same reason
    watch = _MemoryWatch()
    # OCR and transcription ask for time page by page, each step bounded by its own limit.
    report_time_to(lambda seconds: conn.send((MORE_TIME, seconds)))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        before = peak_rss_kb()
        try:
            result, retiring = extract(job), watch.hit
        except MemoryError:
            retiring = True
        peak = peak_rss_kb()
        if not retiring and result.status in ("failed", "skipped") and peak > before:
            # A native parser whose allocation failed often says only "unknown
            # error"; a file that failed right as memory reached the budget ran out.
            retiring = peak >= _NEAR_LIMIT * memory_mb * 1024
        if retiring:
            result = out_of_memory(job, memory_mb)
        result.worker_peak_kb = peak
        try:
            conn.send((result, retiring))
        except MemoryError:
            conn.send((out_of_memory(job, memory_mb), True))
            return
        if retiring:
            return

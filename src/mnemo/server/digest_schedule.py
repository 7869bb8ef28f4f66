"""`mnemo serve`'s scheduled digest (``graph.digest_every_hours``; off at 0): every so
often, each collection's digest since the last one is worked out and stored in the
catalog (read back by the web app's digest page and ``Library.stored_digests``).
Nothing is sent anywhere."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from mnemo.library import Library

log = logging.getLogger(__name__)


class DigestSchedule:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.hours = library.settings.graph.digest_every_hours
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.hours <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="mnemo-digest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_once(self) -> int:
        """Store one digest per collection; returns how many were stored."""
        since = datetime.now(UTC) - timedelta(hours=self.hours)
        stored = 0
        for name in self.library.collections():
            try:
                self.library.digest(since, collection=name, store=True)
                stored += 1
            except Exception:  # one collection's failure must not stop the others
                log.exception("digest of collection %r failed", name)
        return stored

    def _run(self) -> None:
        while not self._stop.is_set():  # one at start, then one every `hours`
            self.run_once()
            if self._stop.wait(self.hours * 3600):
                return

"""Keep a collection in step with the file system as files change."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

from mnemo import api
from mnemo.config import Settings
from mnemo.errors import SourceError
from mnemo.ingest.events import EventHandler
from mnemo.ingest.report import RunReport


def watch(
    settings: Settings,
    *,
    collection: str | None = None,
    stop: threading.Event | None = None,
    on_event: EventHandler | None = None,
    on_ready: Callable[[], None] | None = None,
    debounce_ms: int = 800,
) -> Iterator[RunReport]:
    """Sync once, then once per batch of file-system changes, until ``stop`` is set.

    Yields the report of each sync. Only the changed paths are re-examined, with
    the same rules (globs, hidden and ignored files) as a full sync.
    """
    from watchfiles import watch as watch_paths

    yield api.sync(settings, collection=collection, on_event=on_event, lock_timeout=-1)
    roots = [s.path for s in api.sources(settings, collection=collection) if os.path.exists(s.path)]
    if not roots:
        raise SourceError("nothing to watch: none of the collection's sources exists")
    if on_ready is not None:
        on_ready()
    for changes in watch_paths(
        *roots,
        stop_event=stop,
        debounce=debounce_ms,
        raise_interrupt=False,
        ignore_permission_denied=True,
    ):
        changed = sorted({path for _, path in changes})
        yield api.sync(
            settings, collection=collection, paths=changed, on_event=on_event, lock_timeout=-1
        )

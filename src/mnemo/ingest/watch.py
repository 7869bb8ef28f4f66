"""Keep a collection in step with the file system as files change."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

from mnemo.errors import SourceError
from mnemo.report import RunReport


def watch(
    sync: Callable[[list[str] | None], RunReport],
    roots: Callable[[], list[str]],
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
    debounce_ms: int = 800,
) -> Iterator[RunReport]:
    """Sync once, then once per batch of file-system changes, until ``stop`` is set.

    ``sync(paths)`` syncs the collection (all of it for None); ``roots()`` are its
    sources. Yields the report of each sync. Only the changed paths are
    re-examined, with the same rules (globs, hidden and ignored files) as a full sync.
    """
    from watchfiles import watch as watch_paths

    yield sync(None)
    existing = [root for root in roots() if os.path.exists(root)]
    if not existing:
        raise SourceError("nothing to watch: none of the collection's sources exists")
    ready = False
    # yield_on_timeout: the first (empty) batch comes once the watcher is live, so
    # on_ready says "watching" only when a change made now would be seen.
    for changes in watch_paths(
        *existing,
        stop_event=stop,
        debounce=debounce_ms,
        raise_interrupt=False,
        ignore_permission_denied=True,
        yield_on_timeout=True,
        rust_timeout=500,
    ):
        if not ready:
            ready = True
            if on_ready is not None:
                on_ready()
        if changes:
            yield sync(sorted({path for _, path in changes}))

"""Run a blocking ask() in a thread and hand its tokens to an async response.

The answer is computed in a daemon thread; tokens pass through an asyncio
queue. If the client goes away, the response stops reading and the thread
finishes on its own (its answer is still recorded in a conversation).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from mnemo.errors import MnemoError
from mnemo.generation.types import Answer

log = logging.getLogger("mnemo.server")

Item = (
    tuple[Literal["token"], str]
    | tuple[Literal["answer"], Answer]
    | tuple[Literal["error"], Exception]
)


async def answer_events(run: Callable[[Callable[[str], None]], Answer]) -> AsyncIterator[Item]:
    """``run(on_text)`` in a thread; yields ("token", text)..., then ("answer", a) or ("error", e)."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Item] = asyncio.Queue()

    def put(item: Item) -> None:
        loop.call_soon_threadsafe(items.put_nowait, item)

    def work() -> None:
        try:
            put(("answer", run(lambda text: put(("token", text)))))
        except Exception as exc:  # reported to the client as an error event
            if not isinstance(exc, MnemoError):
                log.exception("unexpected error while answering")
            put(("error", exc))

    threading.Thread(target=work, name="mnemo-ask", daemon=True).start()
    while True:
        item = await items.get()
        yield item
        if item[0] != "token":
            return


def error_payload(exc: Exception) -> dict[str, Any]:
    from mnemo.server.errors import status_of

    if isinstance(exc, MnemoError):
        status, code = status_of(exc)
        return {"error": {"code": code, "message": str(exc), "status": status}}
    return {"error": {"code": "internal", "message": f"unexpected {type(exc).__name__}"}}

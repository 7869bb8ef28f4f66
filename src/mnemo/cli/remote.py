"""Hand `mnemo search` and `mnemo ask` to a running `mnemo serve` of the same home.

A cold process spends seconds importing the index library and loading models
before its first query; a running server has them loaded, so the CLI asks it
over HTTP when one is up (see :mod:`mnemo.config.serving` for how it is found
and why its settings must match). `mnemo --no-server ...` always works
in-process. If the server cannot be reached, the command quietly runs
in-process instead; an error the server reports (an unknown collection, a bad
filter) is that command's error, as it would be in-process.

The results are rendered from the API's JSON, which carries the same fields as
the core's objects, so that output and ``--json`` are the same either way
without importing the core.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer

from mnemo.cli.context import state
from mnemo.config import serving
from mnemo.errors import MnemoError

if TYPE_CHECKING:
    from mnemo.retrieval.filters import Filters

#: The API's own bounds: anything outside them is done in-process.
MAX_K = 100
MAX_TEXT = 10_000


class Unreachable(Exception):
    """The server did not answer; the command runs in-process instead."""


class _OutputError(Exception):
    """Printing a streamed token failed (a closed pipe): not the server's doing."""


class Remote:
    """A running server of this home, for one command.

    It is called with the standard library's HTTP client: importing httpx (with
    its command line, Rich and Pygments) would cost a handed-over command about a
    tenth of its time, for two POST requests on loopback."""

    def __init__(self, record: serving.ServingRecord, collection: str) -> None:
        self.url = record.url
        self.collection = collection
        self._headers = {
            "Authorization": f"Bearer {record.token}",
            "Content-Type": "application/json",
        }

    def search(
        self,
        query: str,
        *,
        k: int,
        mode: str | None,
        filters: Filters | None,
        rerank: bool | None,
    ) -> SimpleNamespace:
        body = {"query": query, "k": k, "mode": mode, "filters": _filters(filters)}
        body["rerank"] = rerank
        return _namespace(self._post("search", body))

    def ask(
        self,
        question: str,
        *,
        documents: list[str],
        filters: Filters | None,
        mode: str | None,
        extractive: bool,
        cache: bool | None = None,
        on_text: Callable[[str], None] | None,
    ) -> dict[str, Any]:
        """The answer as the API gives it; tokens go to ``on_text`` as they stream."""
        body = {
            "question": question,
            "documents": documents,
            "filters": _filters(filters),
            "mode": mode,
            "extractive": extractive,
            "stream": True,
        }
        if cache is not None:
            body["cache"] = cache
        streamed = False
        try:
            with self._request("ask", body) as response:
                if response.status != 200:
                    _raise(response.status, response.read())
                for event, data in _events(response):
                    if event == "token" and on_text is not None:
                        streamed = True
                        try:
                            on_text(json.loads(data)["text"])
                        except OSError as exc:  # the terminal or pipe, not the server
                            raise _OutputError from exc
                    elif event == "answer":
                        return dict(json.loads(data))
                    elif event == "error":
                        _raise_payload(json.loads(data))
        except _OutputError as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
        except _TRANSPORT_ERRORS as exc:
            if streamed:  # half an answer is on the screen: do not start another
                raise MnemoError(f"the server stopped while answering ({exc}); ask again")
            raise Unreachable(str(exc)) from exc
        if streamed:
            raise MnemoError("the server stopped while answering; ask again")
        raise Unreachable("the server closed the stream before the answer")

    @contextmanager
    def _request(self, action: str, body: dict[str, Any]) -> Iterator[http.client.HTTPResponse]:
        where = urlsplit(self.url)
        kind = (
            http.client.HTTPSConnection if where.scheme == "https" else http.client.HTTPConnection
        )
        # Connecting is quick or the server is gone; an answer may take long (an LLM).
        connection = kind(where.hostname or "127.0.0.1", where.port, timeout=2.0)
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(600.0)
            path = f"{where.path.rstrip('/')}/collections/{self.collection}/{action}"
            connection.request("POST", path, body=json.dumps(body).encode(), headers=self._headers)
            yield connection.getresponse()
        finally:
            connection.close()

    def _post(self, action: str, body: dict[str, Any]) -> Any:
        try:
            with self._request(action, body) as response:
                status, content = response.status, response.read()
        except _TRANSPORT_ERRORS as exc:
            raise Unreachable(str(exc)) from exc
        if status != 200:
            _raise(status, content)
        return json.loads(content)


def _events(response: http.client.HTTPResponse) -> Iterator[tuple[str, str]]:
    """The server-sent events of a response: (event name, data) as each ends."""
    event, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def connect(
    ctx: typer.Context, collection: str | None, *, k: int = 10, text: str = ""
) -> Remote | None:
    """The running server to hand this command to, or None to run it in-process.

    When the server's settings were built from the same inputs as this command's
    would be, no settings model is built here (half a second of a cold start)."""
    found = state(ctx)
    if found.no_server or k > MAX_K or len(text) > MAX_TEXT:
        return None
    quick = serving.resolve(found.home, found.assignments, collection)
    if quick is not None:
        home, name = quick
        record = serving.read(home)
        if record is None:
            return None
        if record.inputs and record.inputs == serving.inputs(home, found.assignments):
            return Remote(record, name)
    settings = found.settings(collection)
    record = serving.read(settings.home)
    if record is None or record.fingerprint != serving.fingerprint(settings):
        return None
    return Remote(record, settings.collection)


#: The order of :class:`mnemo.generation.types.Answer`'s fields, as ``--json`` prints them
#: in-process (not imported: that would cost the start-up this module saves).
_ANSWER_ORDER = (
    "question",
    "text",
    "kind",
    "citations",
    "sources",
    "query",
    "model",
    "warnings",
    "usage",
    "seconds",
    "conversation_id",
    "turn",
    "cached_at",
    "injections",
    "masked",
    "trace_id",
    "message_id",
)


def answer_json(data: dict[str, Any]) -> dict[str, Any]:
    """The API's answer in the shape of ``mnemo ask --json`` in-process: each
    citation names its source by number."""
    citations = []
    for citation in data["citations"]:
        item = {key: citation[key] for key in ("number", "sentence", "verdict", "score", "quote")}
        item["source"] = _source_number(citation, data)
        citations.append(item)
    # The core's field order first; any field the API adds later keeps its own order.
    shaped = {key: data[key] for key in _ANSWER_ORDER if key in data}
    shaped |= {key: value for key, value in data.items() if key not in shaped}
    shaped["citations"] = citations
    return shaped


def answer_namespace(data: dict[str, Any]) -> SimpleNamespace:
    """The API's answer with attribute access, each citation holding its source, as
    the terminal renderer reads the core's Answer."""
    answer = _namespace(data)
    if isinstance(getattr(answer, "cached_at", None), str):
        answer.cached_at = datetime.fromisoformat(answer.cached_at)
    else:
        answer.cached_at = getattr(answer, "cached_at", None)
    by_number = {source.number: source for source in answer.sources}
    for citation, given in zip(answer.citations, data["citations"], strict=True):
        number = _source_number(given, data)
        citation.source = by_number.get(number) if number is not None else None
    return answer


def _source_number(citation: dict[str, Any], data: dict[str, Any]) -> int | None:
    if citation["verdict"] == "invalid":
        return None
    numbers = {source["number"] for source in data["sources"]}
    return citation["number"] if citation["number"] in numbers else None


def _filters(filters: Filters | None) -> dict[str, Any] | None:
    if filters is None:
        return None

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "path": list(filters.path),
        "media_types": list(filters.media_types),
        "tags": list(filters.tags),
        "modified_after": moment(filters.modified_after),
        "modified_before": moment(filters.modified_before),
    }


#: Fields that are mappings in the core's objects too (seconds per stage, scores).
_MAPPINGS = frozenset({"seconds", "stages", "scores", "usage"})


def _namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(
            **{key: item if key in _MAPPINGS else _namespace(item) for key, item in value.items()}
        )
    if isinstance(value, list):
        return [_namespace(item) for item in value]
    return value


def plain(value: Any) -> Any:
    """A namespace from :func:`_namespace` back to plain data, for ``--json``."""
    if isinstance(value, SimpleNamespace):
        return {key: plain(item) for key, item in vars(value).items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


#: The server is gone or stopped mid-answer (refused, reset, timed out, cut short).
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


def _raise(status: int, content: bytes) -> None:
    try:
        payload = json.loads(content)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict) or "error" not in payload:
        raise Unreachable(f"the server answered {status} with no error body")
    _raise_payload(payload, status)


def _raise_payload(payload: dict[str, Any], status: int = 400) -> None:
    error = payload.get("error") or {}
    code = str(error.get("code", "error"))
    message = str(error.get("message", "the server reported an error"))
    if code in ("missing_key", "invalid_key"):  # the server restarted: its token changed
        raise Unreachable(message)
    raise _error_class(code)(message)


def _error_class(code: str) -> type[MnemoError]:
    """The exception the server mapped to ``code``, so that the exit code matches an
    in-process run."""
    from mnemo.server.errors import error_class

    return error_class(code)

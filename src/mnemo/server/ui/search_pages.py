"""The search page: a query, a mode, the REST API's filters; results that open the viewer."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from mnemo.retrieval.filters import Filters, local_moment
from mnemo.server.auth import UI_PREFIX, Principal, require
from mnemo.server.errors import ApiError
from mnemo.server.ui.library_pages import Collection, checked_name
from mnemo.server.ui.render import page

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
MAX_QUERY = 10_000
MODES = {"hybrid": "Both", "bm25": "Keywords", "dense": "Meaning"}
Text = Annotated[str | None, Query(max_length=1024)]


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())[:20]


def _day(value: str | None, field: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        return local_moment(
            datetime.combine(date.fromisoformat(value), time.max if end else time.min)
        )
    except ValueError:
        raise ApiError(
            400, "bad_date", f"{field}: {value[:40]!r} is not a date (YYYY-MM-DD)"
        ) from None


@router.get(f"{UI_PREFIX}/search")
def search_page(
    request: Request,
    _: Reader,
    c: Collection = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY * 2)] = None,
    mode: Annotated[str | None, Query(pattern="^(hybrid|bm25|dense)?$")] = None,
    path: Text = None,
    type: Text = None,
    tags: Text = None,
    after: Annotated[str | None, Query(max_length=10)] = None,
    before: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    name = checked_name(c, request.app.state.settings.collection)
    query = (q or "").strip()
    form = {
        "q": query,
        "mode": mode or "",
        "path": path or "",
        "type": type or "",
        "tags": tags or "",
        "after": after or "",
        "before": before or "",
    }
    values = {"collection": name, "form": form, "modes": MODES, "response": None, "error": None}
    if not query:
        return page(request, "search.html", **values)
    if len(query) > MAX_QUERY:
        values["error"] = (
            f"the query is {len(query):,} characters long; "
            f"at most {MAX_QUERY:,} are searched: shorten it"
        )
        return page(request, "search.html", status=400, **values)
    filters = Filters(
        path=_list(path),
        media_types=_list(type),
        tags=_list(tags),
        modified_after=_day(after, "modified after"),
        modified_before=_day(before, "modified before", end=True),
    )
    response = request.app.state.library.search(
        query, collection=name, k=20, mode=mode or None, filters=filters
    )
    request.app.state.metrics.observe_search(response.seconds)
    values["response"] = response
    return page(request, "search.html", **values)

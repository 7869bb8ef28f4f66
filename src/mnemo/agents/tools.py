"""The research agent's tools: plain functions with typed (pydantic) inputs.

Each tool takes the Library (as :class:`ResearchLibrary`), the collection and its
validated input, and returns a :class:`ToolOutput`: the passages found (document
text: data, shown only to the synthesis step, never to a model that can call
tools) and a short ``note`` of what was found (counts, files) that a planning
model may read. :func:`run_tool` checks a model's raw arguments and answers a
bad call with a :class:`ToolArgumentError` whose message tells the model what
to fix; an unknown tool name gets one too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mnemo.agents.protocol import ResearchLibrary
from mnemo.errors import MnemoError
from mnemo.retrieval.context import ContextPassage
from mnemo.retrieval.filters import Filters

_SECTION_TOKENS = 1500


class ToolArgumentError(MnemoError):
    """A tool call the agent cannot run: unknown tool or bad arguments (sent back to the model)."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subquestion: str | None = Field(
        None, description="The sub-question this call is for (its passages are kept for it)."
    )


class SearchInput(_Input):
    query: str = Field(..., min_length=1, max_length=500, description="What to search for.")
    k: int = Field(6, ge=1, le=20, description="Passages to return.")
    mode: Literal["hybrid", "bm25", "dense"] = Field("hybrid", description="Retriever.")
    path: list[str] = Field(default_factory=list, description="Path globs, e.g. 'notes/*.md'.")
    tags: list[str] = Field(default_factory=list, description="Only documents with any tag.")
    after: date | None = Field(None, description="Only documents dated on or after (YYYY-MM-DD).")
    before: date | None = Field(None, description="Only documents dated before (YYYY-MM-DD).")


class KeywordInput(_Input):
    query: str = Field(..., min_length=1, max_length=500, description="Exact names or codes.")
    k: int = Field(6, ge=1, le=20)


class ReadInput(_Input):
    document: str = Field(..., min_length=1, description="Document id, path or file name.")
    section: str | None = Field(None, description="Only the section whose heading has this.")


class ListInput(_Input):
    contains: str | None = Field(None, description="Only paths containing this text.")
    tag: str | None = Field(None, description="Only documents with this tag.")
    after: date | None = Field(None, description="Only documents changed on or after this date.")
    limit: int = Field(20, ge=1, le=100)


class LinksInput(_Input):
    document: str = Field(..., min_length=1, description="Note id, path or file name.")


@dataclass
class ToolOutput:
    passages: list[ContextPassage] = field(default_factory=list)
    note: str = ""  # counts and file names: safe to show a planning model
    count: int = 0
    best: float | None = None  # the best relevance score seen (reranker logit or cosine)
    scored_by: str | None = None  # "rerank" or "dense"


def _filters(args: SearchInput) -> Filters | None:
    def moment(day: date | None) -> datetime | None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None

    found = Filters(
        path=tuple(args.path),
        tags=tuple(args.tags),
        modified_after=moment(args.after),
        modified_before=moment(args.before),
    )
    return None if found.empty else found


def _files(passages: list[ContextPassage]) -> str:
    names = list(dict.fromkeys(p.path.rsplit("/", 1)[-1] for p in passages))
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _searched(
    lib: ResearchLibrary, collection: str, query: str, k: int, mode: str, filters: Filters | None
) -> ToolOutput:
    settings = lib.settings
    response = lib.search(
        query,
        collection=collection,
        k=k,
        mode=mode,
        filters=filters,
        rerank=settings.answer.rerank and mode != "bm25",
    )
    passages = lib.context(response.hits, collection=collection, max_tokens=2000)
    best, by = None, None
    for name in ("rerank", "dense"):
        scores = [h.scores[name] for h in response.hits if name in h.scores]
        if scores:
            best, by = max(scores), name
            break
    note = f"{len(passages)} passage(s)" + (f" from {_files(passages)}" if passages else "")
    return ToolOutput(passages, note, len(passages), best, by)


def search(lib: ResearchLibrary, collection: str, args: SearchInput) -> ToolOutput:
    """Hybrid (or keyword, or dense) search of the collection, with optional filters."""
    return _searched(lib, collection, args.query, args.k, args.mode, _filters(args))


def keyword_search(lib: ResearchLibrary, collection: str, args: KeywordInput) -> ToolOutput:
    """Keyword (BM25) search: exact names, codes and rare words."""
    return _searched(lib, collection, args.query, args.k, "bm25", None)


def read_document(lib: ResearchLibrary, collection: str, args: ReadInput) -> ToolOutput:
    """A whole document, or one section of it, as passages in document order."""
    info, chunks = lib.document(args.document, collection=collection)
    if args.section:
        wanted = args.section.lower()
        chunks = [c for c in chunks if any(wanted in h.lower() for h in c.heading_path or [])]
    passages: list[ContextPassage] = []
    tokens = 0
    for chunk in chunks:
        if tokens + chunk.token_count > _SECTION_TOKENS and passages:
            break
        tokens += chunk.token_count
        passages.append(
            ContextPassage(
                number=len(passages) + 1,
                document_id=info.id,
                path=info.path,
                title=info.title,
                heading_path=list(chunk.heading_path or []),
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                chunk_ids=[chunk.id],
                text=chunk.text,
                tokens=chunk.token_count,
                score=1.0,
            )
        )
    where = f" (section {args.section!r})" if args.section else ""
    note = f"{len(passages)} passage(s) of {info.path.rsplit('/', 1)[-1]}{where}"
    return ToolOutput(passages, note, len(passages))


def list_documents(lib: ResearchLibrary, collection: str, args: ListInput) -> ToolOutput:
    """Documents by metadata: path text, tag, changed since a date (no passages)."""
    page = lib.document_page(
        collection=collection,
        state="indexed",
        contains=args.contains,
        sort="updated",
        descending=True,
        limit=500,
    )
    items = page.items
    if args.tag:
        items = [d for d in items if args.tag in d.tags]
    if args.after:
        since = datetime(args.after.year, args.after.month, args.after.day, tzinfo=UTC)
        items = [d for d in items if _aware(d.updated_at) >= since]
    items = items[: args.limit]
    note = f"{len(items)} document(s): " + ", ".join(d.path for d in items)
    return ToolOutput([], note, len(items))


def links(lib: ResearchLibrary, collection: str, args: LinksInput) -> ToolOutput:
    """A note's wikilinks and backlinks (the notes linking to it)."""
    found = lib.links(args.document, collection=collection)
    note = (
        f"{found.path} links to {len(found.links)} note(s): {', '.join(found.links) or 'none'}; "
        f"{len(found.backlinks)} note(s) link to it: {', '.join(found.backlinks) or 'none'}"
    )
    return ToolOutput([], note, len(found.links) + len(found.backlinks))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input: type[_Input]
    run: Callable[[ResearchLibrary, str, Any], ToolOutput]

    def schema(self) -> dict[str, Any]:
        return self.input.model_json_schema()


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("search", search.__doc__ or "", SearchInput, search),
        Tool("keyword_search", keyword_search.__doc__ or "", KeywordInput, keyword_search),
        Tool("read_document", read_document.__doc__ or "", ReadInput, read_document),
        Tool("list_documents", list_documents.__doc__ or "", ListInput, list_documents),
        Tool("links", links.__doc__ or "", LinksInput, links),
    )
}


def parse_args(name: str, raw: str | dict[str, Any]) -> _Input:
    """The validated input of tool ``name``; ToolArgumentError saying what to fix."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolArgumentError(f"unknown tool {name!r}: use one of {', '.join(TOOLS)}")
    try:
        given = json.loads(raw or "{}") if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ToolArgumentError(f"{name}: arguments are not JSON ({exc.msg}); send an object")
    if not isinstance(given, dict):
        raise ToolArgumentError(
            f"{name}: arguments must be a JSON object, not {type(given).__name__}"
        )
    try:
        return tool.input.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise ToolArgumentError(f"{name}: {problems}") from None


def run_tool(lib: ResearchLibrary, collection: str, name: str, args: _Input) -> ToolOutput:
    return TOOLS[name].run(lib, collection, args)

"""MCP tools of research mode: ``research`` (plan, search per part, check) and ``links``
(a note's wikilinks and backlinks: the research agent's own tool, shared)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field

from mnemo.agents.tools import LinksInput
from mnemo.agents.tools import links as links_tool
from mnemo.library import Library
from mnemo.server.mcp_models import CheckedCitation

CollectionArg = Annotated[
    str | None, Field(description="Collection to use; default: the server's default collection.")
]


class ResearchStep(BaseModel):
    kind: str = Field(description="plan, tool, grade, synthesise, verify, memory, budget...")
    message: str
    seconds: float


class ResearchResult(BaseModel):
    answer: str = Field(description="The answer, with [n] citations (and [Mn] for memory).")
    kind: str
    unanswered: list[str] = Field(description="Parts of the question the documents do not answer.")
    citations: list[CheckedCitation]
    memories: list[str] = Field(description="Recalled memories, [M1] first: not documents.")
    steps: list[ResearchStep]
    stopped: str | None = Field(description="The budget that stopped the run early, if any.")
    warnings: list[str]


class LinksResult(BaseModel):
    document: str
    links: list[str] = Field(description="Paths of the notes it links to.")
    unresolved: list[str] = Field(description="Link targets that name no note.")
    backlinks: list[str] = Field(description="Paths of the notes that link to it.")


def tools(library: Library, errors: Callable[[], Any]) -> list[tuple[Callable[..., Any], str]]:
    def research(
        question: Annotated[str, Field(description="A multi-part or comparative question.")],
        collection: CollectionArg = None,
    ) -> ResearchResult:
        """Answer a hard question from the user's documents in research mode: split it into
        parts, search for each, grade what was found, write one answer and check every
        citation. Says which parts stayed unanswered; lists every step taken."""
        with errors():
            found = library.research(question, collection=collection)
        answer = found.answer
        return ResearchResult(
            answer=answer.text,
            kind=answer.kind,
            unanswered=found.unanswered,
            citations=[CheckedCitation.of(c) for c in answer.citations],
            memories=[m.text for m in found.memories],
            steps=[
                ResearchStep(kind=e.kind, message=e.message, seconds=e.seconds) for e in found.trace
            ],
            stopped=found.stopped,
            warnings=answer.warnings,
        )

    def links(
        document: Annotated[str, Field(description="A note's path, end of path or file name.")],
        collection: CollectionArg = None,
    ) -> LinksResult:
        """A Markdown note's wikilinks (resolved to notes) and its backlinks."""
        with errors():
            name = collection or library.settings.collection
            links_tool(library, name, LinksInput(document=document))  # checks the note exists
            found = library.links(document, collection=name)
        return LinksResult(
            document=found.path,
            links=found.links,
            unresolved=found.unresolved,
            backlinks=found.backlinks,
        )

    return [(research, "Research your documents"), (links, "Links of a note")]

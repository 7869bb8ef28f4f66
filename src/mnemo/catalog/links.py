"""What a note links to, what links to it, and the links that name no note: the shape
in which the research agent and the MCP server read a note's links (built by
``Library.links`` from the note graph's edges)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NoteLinks:
    document_id: str
    path: str
    links: list[str] = field(default_factory=list)  # paths of the notes it links to
    unresolved: list[str] = field(default_factory=list)  # targets that name no note
    backlinks: list[str] = field(default_factory=list)  # paths of the notes linking to it

"""A parsed document: what every parser produces and the chunker reads.

Its text, its title, the sections that split the text along its structure
(each with its heading path) and, for formats with pages, the page each
stretch of text came from. All positions are character offsets into ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Markup = Literal["markdown", "text"]


@dataclass(frozen=True)
class Section:
    heading_path: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, as a reader would cite it
    start: int
    end: int


@dataclass(frozen=True)
class Attachment:
    """A file carried inside another (an e-mail's attachment), indexed as its own
    document under a virtual path: ``<container>#<where>/<name>``."""

    where: str  # e.g. "attachments/2" or "messages/3/attachments/1"
    name: str  # its file name, whose extension picks its parser
    data: bytes
    carrier: str  # what it is attached to, as a reader would name it (the subject)


@dataclass
class ParsedDocument:
    text: str
    sections: list[Section]
    title: str | None = None
    pages: list[Page] | None = None
    markup: Markup = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)

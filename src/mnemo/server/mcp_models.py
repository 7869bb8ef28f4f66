"""What the MCP tools return: typed results, so agents get output schemas."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from mnemo.generation.types import Citation

CHUNKS_PER_READ = 25  # get_document returns at most this many chunks per call


class Passage(BaseModel):
    chunk_id: str = Field(description="Stable id of this passage.")
    document_id: str
    uri: str = Field(description="Resource URI of the whole document (resources/read).")
    path: str = Field(description="The file the passage comes from.")
    title: str | None
    page_start: int | None = Field(description="First page, for paged formats such as PDF.")
    page_end: int | None
    heading_path: list[str] = Field(description="Headings above the passage, outermost first.")
    snippet: str = Field(description="The best-matching words, shortened.")
    text: str = Field(description="The whole passage.")
    score: float = Field(description="Relevance; higher is better, comparable within one search.")


class SearchResult(BaseModel):
    query: str = Field(description="What was searched (whitespace tidied, cut if too long).")
    collection: str
    retrievers: list[str] = Field(description="Retrievers that ran: bm25, dense, rerank.")
    passages: list[Passage] = Field(description="Best first.")
    warnings: list[str]


class Source(BaseModel):
    number: int = Field(description="The n of [n] markers in the answer text.")
    document_id: str
    uri: str = Field(description="Resource URI of the whole document.")
    path: str
    title: str | None
    page_start: int | None
    page_end: int | None
    heading_path: list[str]


class CheckedCitation(BaseModel):
    number: int = Field(description="The [n] in the answer text.")
    verdict: Literal["supported", "unsupported", "quoted", "invalid"] = Field(
        description="supported: the source backs the sentence; quoted: the sentence is the "
        "source's own words; unsupported: it does not back it; invalid: no such source "
        "(the marker was removed from the answer)."
    )
    sentence: str = Field(description="The answer sentence that carries the citation.")
    quote: str | None = Field(description="The source's sentence that best matches it.")
    path: str | None = Field(description="The cited file; null for an invalid citation.")
    page_start: int | None
    page_end: int | None

    @classmethod
    def of(cls, citation: Citation) -> CheckedCitation:
        return cls(
            number=citation.number,
            verdict=citation.verdict,
            sentence=citation.sentence,
            quote=citation.quote,
            path=citation.path,
            page_start=citation.page,
            page_end=citation.source.page_end if citation.source else None,
        )


class AskResult(BaseModel):
    answer: str = Field(description="The answer, with [n] markers pointing to sources.")
    kind: Literal["generated", "extractive", "abstained", "unverified"] = Field(
        description="generated: written by the configured language model; extractive: "
        "sentences quoted from the documents (no model configured); abstained: the "
        "documents do not answer it; unverified: written by the model but no citation "
        "could be checked, or it may follow an instruction found in a document."
    )
    model: str | None = Field(description="provider:model that wrote the answer, if any.")
    searched: str = Field(
        "",
        description="What was searched: the question, or, for a follow-up, the question "
        "made to stand alone with the earlier questions' terms.",
    )
    citations: list[CheckedCitation]
    sources: list[Source] = Field(
        description="The numbered sources; for an abstention, the nearest passages."
    )
    warnings: list[str]
    message_id: str | None = Field(
        None, description="Pass it to give_feedback when the user judges this answer."
    )
    cached_at: str | None = Field(
        None, description="Set when the answer came from the answer cache: when it was made."
    )


class DocumentEntry(BaseModel):
    id: str
    uri: str = Field(description="Resource URI of its text (indexed documents only).")
    path: str
    state: str = Field(description="indexed, skipped or failed.")
    reason: str | None = Field(description="Why it was skipped or failed.")
    title: str | None
    media_type: str | None
    size: int = Field(description="File size in bytes.")
    chunks: int
    pages: int | None
    updated_at: datetime
    tags: list[str]


class DocumentList(BaseModel):
    collection: str
    documents: list[DocumentEntry] = Field(description="Ordered by path.")


class ChunkText(BaseModel):
    chunk_id: str
    ordinal: int = Field(description="Position in the document, from 0.")
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    text: str


class DocumentDetail(BaseModel):
    document: DocumentEntry
    chunks: list[ChunkText] = Field(description=f"At most {CHUNKS_PER_READ}, in order.")
    total_chunks: int
    next_start: int | None = Field(
        description="Pass as `start` to read the next chunks; null when none are left."
    )


class Problem(BaseModel):
    path: str
    outcome: str = Field(description="skipped or failed.")
    reason: str | None


class AddResult(BaseModel):
    collection: str
    path: str = Field(description="The file or folder indexed (for text: the stored note).")
    counts: dict[str, int] = Field(
        description="Files by outcome: indexed, unchanged, moved, removed, skipped, failed."
    )
    chunks_written: int
    problems: list[Problem] = Field(description="Files skipped or failed, with the reason.")
    embedding_error: str | None = Field(
        description="Why embedding stopped, if it did; keyword search still finds the text."
    )


class JobEntry(BaseModel):
    id: str
    collection: str
    paths: list[str]
    state: str = Field(description="queued, running, done, failed or cancelled.")
    files_done: int
    files_total: int
    error: str | None
    cancel_requested: bool = Field(
        description="A running job asked to stop: it stops at its next file."
    )
    attempts: int = Field(0, description="How many times a worker has claimed the job.")
    runner: str = Field(
        "", description="host:pid of the process that runs (or last ran) it; empty if none has."
    )


class JobList(BaseModel):
    jobs: list[JobEntry]

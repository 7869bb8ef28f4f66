"""Request and response bodies of the REST API; requests forbid unknown fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mnemo.config.settings import COLLECTION_NAME
from mnemo.retrieval.filters import local_moment

CollectionName = Annotated[str, Field(pattern=COLLECTION_NAME.pattern)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .@-]+$")]
Mode = Literal["hybrid", "bm25", "dense"]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


#: Always with a UTC offset, as RFC 3339 (and the OpenAPI date-time format) wants.
Timestamp = Annotated[datetime, AfterValidator(_utc)]


class RequestBody(BaseModel):
    """Request bodies reject unknown fields (422)."""

    model_config = ConfigDict(extra="forbid")


class CollectionCreate(RequestBody):
    name: CollectionName


class CollectionOut(BaseModel):
    name: str
    sources: int
    documents: dict[str, int]
    chunks: int
    embedders: list[str]


class SourceAdd(RequestBody):
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="Absolute path on the server, or the http(s) URL of a web page.",
    )


class FileOutcome(BaseModel):
    path: str
    outcome: str
    reason: str | None


class JobReport(BaseModel):
    counts: dict[str, int]
    files: list[FileOutcome]
    embedding_error: str | None


class JobOut(BaseModel):
    id: str
    collection: str
    paths: list[str]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    files_done: int
    files_total: int
    report: JobReport | None
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    runner_host: str | None = Field(
        None, description="Host name of the server process that runs (or last ran) the job"
    )
    runner_pid: int | None = Field(None, description="Its process id")


class DocumentOut(BaseModel):
    id: str
    path: str
    state: str
    reason: str | None
    title: str | None
    media_type: str | None
    size: int
    chunks: int
    pages: int | None
    updated_at: Timestamp


class ChunkOut(BaseModel):
    id: str
    ordinal: int
    text: str
    heading_path: list[str]
    page_start: int | None
    page_end: int | None
    tokens: int


class DocumentDetail(DocumentOut):
    chunk_list: list[ChunkOut]


class Removed(BaseModel):
    removed: str


#: A time; without a zone it is the server's local time, as on the command line.
Moment = Annotated[datetime, AfterValidator(local_moment)]


class SearchFilters(RequestBody):
    """Only passages of documents that match every filter given."""

    path: list[Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=list, max_length=20, description="Path globs, e.g. '*.pdf'; any may match."
    )
    media_types: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list,
        max_length=20,
        description="e.g. application/pdf, text/* or a file extension: pdf, docx, md.",
    )
    tags: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list, max_length=20)
    modified_after: Moment | None = Field(None, description="Modified at or after (ISO 8601).")
    modified_before: Moment | None = Field(None, description="Modified before (ISO 8601).")


class SearchRequest(RequestBody):
    query: str = Field(min_length=1, max_length=10000)
    k: int = Field(10, ge=1, le=100)
    mode: Mode | None = None
    filters: SearchFilters | None = None
    rerank: bool | None = Field(
        None, description="Reorder the best hits with the cross-encoder (default: search.rerank)."
    )


class Hit(BaseModel):
    chunk_id: str
    document_id: str
    path: str
    title: str | None
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    snippet: str
    text: str
    score: float
    media_type: str | None = None
    ordinal: int = Field(0, description="The passage's position in its document.")
    char_start: int = Field(0, description="Where the passage starts in the document's text.")
    char_end: int = 0
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="Matched words, as [start, end) spans of the snippet."
    )
    scores: dict[str, float] = Field(default_factory=dict, description="Each retriever's score.")


class SearchOut(BaseModel):
    query: str
    collection: str
    mode: str
    used: list[str]
    hits: list[Hit]
    warnings: list[str]
    seconds: float
    embedder: str | None = None
    stages: dict[str, float] = Field(default_factory=dict, description="Seconds in each stage.")


class AskRequest(RequestBody):
    question: str = Field(min_length=1, max_length=10000)
    mode: Mode | None = None
    filters: SearchFilters | None = None
    documents: list[Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=list, max_length=20
    )
    extractive: bool = Field(False, description="Quote the best sentences even with an LLM.")
    conversation_id: str | None = Field(None, max_length=64, description="Continue this chat.")
    stream: bool = Field(
        False, description="Server-sent events: 'token' events, then one 'answer' event."
    )
    cache: bool = Field(True, description="False: answer afresh, not from the answer cache.")


class SourceOut(BaseModel):
    number: int
    document_id: str
    path: str
    title: str | None
    heading_path: list[str]
    page_start: int | None
    page_end: int | None
    text: str
    chunk_ids: list[str] = Field(default_factory=list)
    tokens: int = 0
    score: float = 0.0


class CitationOut(BaseModel):
    number: int
    sentence: str
    verdict: str
    score: float | None
    quote: str | None
    path: str | None
    page: int | None


class UsageOut(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class AnswerOut(BaseModel):
    question: str
    text: str
    kind: str
    citations: list[CitationOut]
    sources: list[SourceOut]
    query: str
    model: str | None
    warnings: list[str]
    seconds: dict[str, float]
    conversation_id: str | None
    usage: UsageOut = Field(default_factory=lambda: UsageOut())
    turn: int | None = Field(None, description="Its position in the conversation, if any.")
    message_id: str | None = Field(
        None, description="Judge the answer by it: POST /feedback (or /v1/feedback)."
    )
    cached_at: Timestamp | None = Field(
        None, description="Set when the answer came from the answer cache: when it was made."
    )
    injections: list[str] = []
    masked: int = 0
    trace_id: str | None = None


class ConversationCreate(RequestBody):
    title: str = Field("", max_length=200)


class ConversationRename(RequestBody):
    title: str = Field(min_length=1, max_length=200)


class ConversationOut(BaseModel):
    id: str
    collection: str
    title: str
    turns: int
    created_at: Timestamp
    updated_at: Timestamp


class TurnOut(BaseModel):
    position: int
    question: str
    answer: str
    kind: str
    citations: list[dict[str, Any]]
    created_at: Timestamp


class FeedbackCreate(RequestBody):
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = Field(None, ge=1, le=5)
    correction: str | None = Field(None, max_length=10000)

    @model_validator(mode="after")
    def _says_something(self) -> FeedbackCreate:
        if self.thumbs is None and self.rating is None and not self.correction:
            raise ValueError("give thumbs, rating or correction")
        return self


class FeedbackOut(BaseModel):
    id: int
    conversation_id: str
    position: int
    thumbs: str | None
    rating: int | None
    correction: str | None
    created_at: Timestamp


class KeyCreate(RequestBody):
    scope: Literal["read", "write", "admin"]
    name: Name | None = None


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: Timestamp
    revoked_at: Timestamp | None


class KeyCreated(KeyOut):
    secret: str = Field(description="Shown once; only its hash is stored.")


class AuditOut(BaseModel):
    id: int
    key_id: int | None
    key_name: str | None
    action: str
    target: str
    status: int
    request_id: str | None
    created_at: Timestamp


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    #: Index differences searches survive (a keyword or vector table behind the
    #: catalog); a missing or unreadable index answers 503 instead.
    warnings: list[str] = []


class DeploymentOut(BaseModel):
    """Where this server's collections live (no password) and the ingestion queue of every
    server process sharing its catalog."""

    catalog_backend: str = Field(description="sqlite or postgresql")
    catalog: str = Field(description="The SQLite file, or the database URL, password hidden.")
    index_backend: str = Field(description="lancedb, milvus, or a plugin's name")
    index: str = Field(description="The index folder, or the Milvus server or file.")
    jobs_queued: int = Field(description="Ingestion jobs waiting, submitted to any process.")
    jobs_running: int = Field(description="Ingestion jobs running, in any process.")

"""Settings: one validated object built from four layers.

Precedence, lowest to highest: built-in defaults, ``<home>/mnemo.toml``,
``MNEMO_*`` environment variables (nested with ``__``, e.g.
``MNEMO_CHUNKING__MAX_TOKENS=256``) and command-line flags. The data directory
(``home``) is chosen before the file is read, so it comes from a flag,
``MNEMO_HOME`` or the platform's user data directory.

Core code receives a :class:`Settings` instance; only :func:`load_settings`,
called by the front ends, looks at the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mnemo.config.production import GuardSettings, RouterSettings, TracesSettings
from mnemo.errors import ConfigError
from mnemo.registry import EMBEDDERS, LLM_PROVIDERS, RERANKERS, STORES

SETTINGS_FILE = "mnemo.toml"
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
#: A DNS name or an IP address (IPv6 without brackets), lower case, no port.
HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$|^[0-9a-f:.]+$")
#: scheme://host[:port], as a browser sends it in an Origin header.
ORIGIN = re.compile(r"^https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


class IngestSettings(BaseModel):
    """Limits and discovery rules for ingestion."""

    model_config = ConfigDict(extra="forbid")

    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are skipped.")
    max_pages: int = Field(5000, gt=0, description="PDFs with more pages are skipped.")
    max_chunks_per_file: int = Field(
        20000, gt=0, description="Files that would yield more chunks are skipped."
    )
    include_hidden: bool = Field(False, description="Index dot-files and dot-folders.")
    respect_ignore_files: bool = Field(
        True, description="Honour .gitignore and .mnemoignore files inside sources."
    )
    symlinks: Literal["within", "follow", "skip"] = Field(
        "within",
        description="Symbolic links inside a source: within follows those that stay inside the "
        "source folder and reports the others as skipped; follow follows every link; skip "
        "follows none. Loops are detected. A server only ever follows links that stay inside "
        "server.allowed_roots.",
    )
    workers: int = Field(0, ge=0, description="Parser processes; 0 picks one per CPU core.")
    max_parse_seconds: float = Field(
        120.0, gt=0, description="A file still being read, parsed and chunked after this is failed."
    )
    max_worker_memory_mb: int = Field(
        2048,
        ge=256,
        description="Memory each parser process may use; a file that needs more is failed.",
    )
    max_inflated_mb: float = Field(
        256.0,
        gt=0,
        description="The most a DOCX package (all its parts) or one PDF stream may inflate to; "
        "checked before inflating.",
    )
    max_compression_ratio: float = Field(
        100.0,
        gt=1,
        description="DOCX parts over 10 MB inflated that compress more than this are refused "
        "(decompression bombs).",
    )
    max_text_mb: float = Field(
        25.0, gt=0, description="Files whose extracted text is larger than this are skipped."
    )

    @model_validator(mode="before")
    @classmethod
    def _old_follow_symlinks(cls, data: Any) -> Any:
        # ingest.follow_symlinks (before 0.2) becomes ingest.symlinks.
        if isinstance(data, dict) and "follow_symlinks" in data and "symlinks" not in data:
            data = dict(data)
            follow = str(data.pop("follow_symlinks")).strip().lower() in ("1", "true", "yes", "on")
            data["symlinks"] = "follow" if follow else "skip"
        return data


class OcrSettings(BaseModel):
    """Reading scanned PDF pages and images with Tesseract."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, description="OCR PDF pages without a text layer, and images; off: skip them."
    )
    languages: str = Field(
        "eng",
        description="Tesseract languages, joined by +, e.g. eng+deu (each needs its language "
        "pack, e.g. apt-get install tesseract-ocr-deu).",
    )
    dpi: int = Field(300, ge=72, le=600, description="Resolution PDF pages are rendered at.")
    page_seconds: float = Field(
        60.0, gt=0, description="A page still being read after this is left out (with a warning)."
    )
    tesseract: str = Field(
        "tesseract", description="The Tesseract program: a name on PATH or a full path."
    )

    @field_validator("languages")
    @classmethod
    def _valid_languages(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", value):
            raise ValueError(
                f"{value!r} is not a list of Tesseract languages: give codes joined by +, "
                "e.g. eng or eng+deu"
            )
        return value


class WebSettings(BaseModel):
    """Web pages added by URL (`mnemo add https://...`) and re-checked by `mnemo sync`."""

    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float = Field(
        20.0, gt=0, description="A page (or its robots.txt) still arriving after this is failed."
    )
    max_page_mb: float = Field(20.0, gt=0, description="Pages larger than this are failed.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed for one page.")
    user_agent: str = Field(
        "Mnemo/0.1 (self-hosted second brain; fetches pages its user added)",
        min_length=1,
        description="The User-Agent sent, and the name robots.txt rules are matched against.",
    )
    respect_robots: bool = Field(
        True, description="Read each site's robots.txt and fetch no page it disallows."
    )
    server_urls: bool = Field(
        True,
        description="Let clients of `mnemo serve` (REST, MCP, web app) add web pages by URL.",
    )
    allow_private_addresses: bool = Field(
        False,
        description="Let URLs added through the server reach loopback, private, link-local "
        "and cloud metadata addresses (the CLI may always).",
    )


class TranscriptionSettings(BaseModel):
    """Turning audio and video into text: an OpenAI-compatible /v1/audio/transcriptions server."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None,
        description="The server's URL, e.g. http://localhost:8000/v1 (a faster-whisper server, "
        "LocalAI) or https://api.openai.com/v1; none: audio and video are skipped. Audio is "
        "sent to this URL only.",
    )
    model: str = Field("whisper-1", description="The model name the server knows.")
    api_key: SecretStr | None = Field(
        None, description="Set it with MNEMO_TRANSCRIPTION__API_KEY; never stored or logged."
    )
    timeout: float = Field(600.0, gt=0, description="Seconds to wait for one file's transcript.")
    ffmpeg: str = Field(
        "ffmpeg", description="The ffmpeg program (reads the audio track of videos)."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value.strip()):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://localhost:8000/v1")
        return value.strip().rstrip("/") if value else None


class ChunkingSettings(BaseModel):
    """Chunk sizes, counted in the embedder's own word pieces."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(
        200,
        ge=16,
        le=8192,
        description="Largest chunk, in tokenizer tokens (MiniLM's window is 256).",
    )
    overlap_tokens: int = Field(30, ge=0, description="Tokens shared by consecutive chunks.")
    tokenizer: Path | None = Field(
        None, description="A tokenizer.json to count tokens with; default: the embedder's."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be smaller than "
                f"max_tokens ({self.max_tokens})"
            )
        return self


class EmbeddingSettings(BaseModel):
    """Which embedder turns chunks into vectors (stored per collection)."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(
        "onnx",
        description="onnx (ONNX Runtime, the default), sentence-transformers (PyTorch), "
        "openai-compatible, none (keyword search only), or a name a `mnemo.embedders` plugin "
        "registers.",
    )
    model: str | None = Field(
        None,
        description="onnx: all-MiniLM-L6-v2 (the default, packaged), bge-small-en-v1.5 "
        "(packaged), or a local model folder; sentence-transformers: a local model folder "
        "(default: the packaged all-MiniLM-L6-v2); openai-compatible: the model name.",
    )
    base_url: str | None = Field(
        None, description="openai-compatible: the server's URL, e.g. http://localhost:11434/v1."
    )
    api_key: SecretStr | None = Field(
        None, description="openai-compatible: the key (set it with MNEMO_EMBEDDING__API_KEY)."
    )
    device: str | None = Field(
        None, description="sentence-transformers: cpu, cuda, mps; default: a GPU if present."
    )
    batch_size: int = Field(
        64, ge=1, le=4096, description="Texts per model call (onnx: per 128 tokens of padding)."
    )
    threads: int = Field(
        0,
        ge=0,
        le=256,
        description="onnx: threads per model call; 0 lets ONNX Runtime choose. The reranker "
        "runs a call's batches side by side, this many at once (0: one per core, at most 4).",
    )
    quantize: bool = Field(
        False,
        description="On CPU, int8 weights: onnx exports an int8 variant of the packaged or a "
        "PyTorch model; sentence-transformers quantises its linear layers (faster; see "
        "docs/benchmarks.md for the quality cost).",
    )
    cache_dir: Path | None = Field(
        None,
        description="Where models exported to ONNX are kept; default: the user's cache folder "
        "(e.g. ~/.cache/mnemo/models).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return EMBEDDERS.check(value)


class SearchSettings(BaseModel):
    """How queries are answered."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["hybrid", "bm25", "dense"] = Field("hybrid", description="Default mode.")
    fusion: Literal["convex", "rrf"] = Field(
        "convex", description="hybrid: score-normalised convex combination, or reciprocal rank."
    )
    dense_weight: float = Field(
        0.8, ge=0, le=1, description="convex fusion: weight of the dense score (tuned on msmarco)."
    )
    rrf_k: int = Field(60, ge=1, description="rrf fusion: the k in 1/(k + rank).")
    candidates: int = Field(
        100, ge=1, le=10000, description="Passages each retriever hands to fusion."
    )
    max_query_chars: int = Field(
        2000, ge=16, description="Longer queries are cut to this many characters."
    )
    reranker: str = Field(
        "cross-encoder",
        description="What reorders the best passages: cross-encoder (the packaged "
        "ms-marco-MiniLM-L-12-v2, or rerank_model), none, or a name a `mnemo.rerankers` "
        "plugin registers.",
    )
    rerank: bool = Field(
        False,
        description="Rerank every search (`mnemo search --rerank` asks for it once); "
        "answers rerank by answer.rerank.",
    )
    rerank_model: Path | None = Field(
        None,
        description="A local cross-encoder folder: model.onnx + tokenizer.json (ONNX Runtime) "
        "or a sentence-transformers one; default: the packaged ms-marco-MiniLM-L-12-v2.",
    )
    rerank_candidates: int = Field(
        20, ge=1, le=1000, description="How deep the reranker reads: the best N passages."
    )
    rerank_max_tokens: int = Field(
        256, ge=16, le=512, description="Question + passage tokens the reranker reads per pair."
    )
    rerank_batch_size: int = Field(
        1,
        ge=1,
        le=512,
        description="Pairs per reranker call. 1 (the default) scores each pair alone, so a "
        "passage's score never depends on the other candidates (INT8 activations are quantised "
        "per call), and is the fastest on CPU (docs/benchmarks.md).",
    )
    concurrent: bool = Field(
        True,
        description="hybrid: run the full-text search in a second thread while the query "
        "is embedded and the vectors searched (same results, less wait).",
    )

    @field_validator("reranker")
    @classmethod
    def _known_reranker(cls, value: str) -> str:
        return RERANKERS.check(value)


class IndexSettings(BaseModel):
    """The search index kept beside the catalog (LanceDB unless a plugin adds another)."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(
        "lancedb",
        description="lancedb (embedded, in <home>/index), milvus (index.milvus_uri), or a name "
        "a `mnemo.stores` plugin registers.",
    )

    ann_min_rows: int = Field(
        50_000,
        ge=256,
        description="Build an approximate vector index once a collection has this many vectors.",
    )
    ann_nprobes: int = Field(32, ge=1, description="IVF partitions searched per query.")
    ann_refine_factor: int = Field(
        2, ge=1, description="Candidates re-scored exactly, as a multiple of k."
    )
    keep_versions_minutes: float = Field(
        10.0, ge=0, description="Old index versions are deleted after this many minutes."
    )
    # -- milvus (index.backend = milvus) --
    milvus_uri: str | None = Field(
        None,
        description="milvus: a server or cluster (http://host:19530), or a local file for "
        "Milvus Lite (default <home>/index/milvus.db).",
    )
    milvus_token: SecretStr | None = Field(
        None, description="milvus: user:password or an API key (MNEMO_INDEX__MILVUS_TOKEN)."
    )
    milvus_prefix: str = Field(
        "mnemo_",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,30}$",
        description="milvus: Milvus collection names start with this (one text and one "
        "vector collection per embedder; a partition per Mnemo collection).",
    )
    milvus_index_type: str = Field(
        "HNSW", description="milvus: the vector index type (HNSW, IVF_FLAT, AUTOINDEX, ...)."
    )
    milvus_index_params: dict[str, Any] = Field(
        default_factory=lambda: {"M": 16, "efConstruction": 200},
        description="milvus: build parameters of the vector index.",
    )
    milvus_search_params: dict[str, Any] = Field(
        default_factory=lambda: {"ef": 128},
        description="milvus: search parameters of the vector index (ef for HNSW, nprobe for IVF).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return STORES.check(value)


class LLMSettings(BaseModel):
    """The language model that writes answers; none means extractive answers only."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        "none",
        description="openai-compatible (Ollama, vLLM, llama.cpp, LM Studio, OpenAI), anthropic, "
        "none (offline extractive answers), or a name a `mnemo.llm_providers` plugin registers.",
    )
    model: str | None = Field(None, description="The model name, e.g. llama3.1:8b or gpt-4o-mini.")
    base_url: str | None = Field(
        None,
        description="openai-compatible: the server's URL, e.g. http://localhost:11434/v1 "
        "(default: OpenAI's); anthropic: default Anthropic's.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Set it with MNEMO_LLM__API_KEY (or OPENAI_API_KEY / ANTHROPIC_API_KEY); "
        "never written to the catalog or logs.",
    )
    timeout: float = Field(120.0, gt=0, description="Seconds to wait for the server.")
    max_retries: int = Field(
        2, ge=0, le=10, description="Retries, with backoff, on connection errors, 429 and 5xx."
    )
    context_window: int = Field(
        8192, ge=512, description="Tokens the model accepts, prompt and answer together."
    )
    max_answer_tokens: int = Field(800, ge=16, description="Longest answer, in tokens.")
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    local_only: bool = Field(
        False,
        description="Refuse any model that is not on this machine or a private network "
        "(checked before any connection).",
    )

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        return LLM_PROVIDERS.check(value)


class AnswerSettings(BaseModel):
    """How `mnemo ask` builds, checks and falls back on answers."""

    model_config = ConfigDict(extra="forbid")

    passages: int = Field(8, ge=1, le=100, description="Passages retrieved for a question.")
    context_tokens: int | None = Field(
        None,
        ge=64,
        description="Token budget for the sources; default: what llm.context_window leaves "
        "after the prompt and the answer (2,000 for extractive answers).",
    )
    min_relevance: float = Field(
        0.46,
        ge=-1,
        le=1,
        description="Abstain when no passage's cosine similarity to the question reaches this "
        "(calibrated: rgb-en-fact questions against their own passages and against MS MARCO; "
        "see docs/benchmarks.md).",
    )
    min_support: float = Field(
        0.72,
        ge=0,
        le=1,
        description="A cited sentence is supported when its support score against the cited "
        "passage reaches this (calibrated on rgb-en-fact).",
    )
    rerank: bool = Field(
        True,
        description="Rerank the passages an answer reads with search.reranker (answers read "
        "few passages, so the order at the top matters most).",
    )
    min_rerank_score: float = Field(
        3.75,
        ge=-100,
        le=100,
        description="When answers rerank, abstain when no passage's reranker score reaches "
        "this (the packaged cross-encoder's logit; calibrated on rgb-en-fact against MS MARCO, "
        "see docs/benchmarks.md; recalibrate it for another rerank_model).",
    )
    quote_check: Literal["extractive", "always", "off"] = Field(
        "extractive",
        description="Before answering from search, check that one of the best quotes has the "
        "question's numbers and names and the kind of value asked for, and scores at least "
        "answer.min_quote_score; abstain if none does (same-topic passages without the "
        "answer). extractive: for answers without a model; always: also before a model "
        "writes; off: never (docs/benchmarks.md).",
    )
    quote_batch_size: int = Field(
        16,
        ge=1,
        le=512,
        description="Quote candidates per reranker call in the quote check (16: the batches "
        "answer.min_quote_score and the quote choice were measured with; docs/benchmarks.md).",
    )
    min_quote_score: float = Field(
        0.0,
        ge=-100,
        le=100,
        description="The quote check's threshold: the cross-encoder's logit for the best "
        "quotes, with their bonuses. At 0 the numbers, names and kind of value decide alone; "
        "6.5 abstains on more same-topic negatives at the cost of some answerable questions "
        "(rgb-en-fact, see docs/benchmarks.md).",
    )
    extractive_sentences: int = Field(
        3, ge=1, le=20, description="Sentences in an extractive answer."
    )
    neighbours: int = Field(
        1, ge=0, le=10, description="Chunks added on each side of a hit to make its passage."
    )


class ResearchSettings(BaseModel):
    """Research mode (`mnemo ask --research`): budgets of the planning agent and its memory."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(
        24, ge=1, le=500, description="Tool calls and model calls one research run may make."
    )
    max_tokens: int = Field(
        60_000, ge=100, description="Model tokens (in and out) one research run may spend."
    )
    max_seconds: float = Field(
        120.0, gt=0, description="Wall-clock seconds one research run may take."
    )
    max_subquestions: int = Field(
        6, ge=1, le=20, description="Sub-questions a question is split into at most."
    )
    retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Corrective re-queries per sub-question when a grade fails (keywords, "
        "step-back, then HyDE with a model).",
    )
    passages: int = Field(6, ge=1, le=50, description="Passages retrieved per search.")
    tool_calling: Literal["auto", "native", "json"] = Field(
        "auto",
        description="How a model plans: native tool calls (OpenAI tools, Anthropic tool use), "
        "a JSON plan in plain text, or auto (native).",
    )
    memory: bool = Field(True, description="Recall long-term memories relevant to a question.")
    history_tokens: int = Field(
        1500, ge=100, description="Past turns kept verbatim; older ones are summarised."
    )


class ServerSettings(BaseModel):
    """`mnemo serve`: where it listens and what it allows."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind; anything but loopback needs keys.")
    port: int = Field(8731, ge=1, le=65535, description="TCP port.")
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders whose files clients may add by server path; none: no such adds.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names clients may use besides loopback and server.host "
        "(e.g. a reverse proxy's name); other Host headers get 421.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed by CORS, and allowed to send state-changing requests; "
        "empty: CORS off, same-origin only.",
    )
    rate_limit: int = Field(
        600, ge=1, description="Requests a minute per API key (or client address without one)."
    )
    auth_failure_limit: int = Field(
        30, ge=1, description="Failed authentications a minute per client address; more: 429."
    )
    max_body_kb: int = Field(
        1024, ge=1, description="Largest request body of every route but uploads, in KiB."
    )
    max_upload_mb: float = Field(50.0, gt=0, description="Largest uploaded file, in MiB.")
    max_running_jobs: int = Field(1, ge=1, le=16, description="Ingestion jobs run at once.")
    max_queued_jobs: int = Field(100, ge=1, description="Jobs waiting beyond that; more: 429.")
    max_job_attempts: int = Field(
        2,
        ge=1,
        le=100,
        description="A job the server was running when it crashed is started again until it "
        "has been interrupted this many times; then it is failed.",
    )
    shutdown_timeout: float = Field(
        30.0, ge=0, description="Seconds shutdown waits for running jobs before requeuing them."
    )
    job_poll_interval: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds between a server's looks at the catalog for jobs queued by "
        "other processes, and for running jobs whose process died.",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _valid_hosts(cls, value: list[str]) -> list[str]:
        hosts = []
        for given in value:
            host = given.strip().lower().removeprefix("[").removesuffix("]")
            if not HOST_NAME.match(host):
                raise ValueError(
                    f"server.allowed_hosts: {given!r} is not a host name or IP address "
                    "(give the name alone: no scheme, port, path or wildcard)"
                )
            hosts.append(host)
        return hosts

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        origins = []
        for given in value:
            origin = given.strip().rstrip("/").lower()  # as browsers send it
            if not ORIGIN.match(origin):
                raise ValueError(
                    f"server.cors_origins: {given!r} is not an origin like https://app.example:8443"
                )
            origins.append(origin)
        return origins


class CacheSettings(BaseModel):
    """Answer caches: never stale, because every entry is tied to the collection's index
    version (any add, change or delete), its settings, filters and model."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Answer a question asked before from the cache.")
    semantic: bool = Field(
        True,
        description="Also answer a rephrased question from the cache: its embedding within "
        "cache.max_distance and the same numbers, names and negations.",
    )
    max_distance: float = Field(
        0.06,
        ge=0,
        le=1,
        description="Cosine distance under which two questions are the same question "
        "(calibrated on paraphrases and rgb-en-fact near misses, see docs/benchmarks.md).",
    )
    max_entries: int = Field(
        5000, ge=1, description="Answers kept per collection; the least used go first."
    )


class GraphSettings(BaseModel):
    """The note graph: graph-aware retrieval and the scheduled digest (both off)."""

    model_config = ConfigDict(extra="forbid")

    retrieval_weight: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="Graph-aware retrieval: notes linked to the best hits join the candidates "
        "with this share of their score (0: off; benchmarks/graph.py measured it).",
    )
    retrieval_seeds: int = Field(
        5, ge=1, le=100, description="How many of the best hits lend their links a score."
    )
    digest_every_hours: float = Field(
        0.0,
        ge=0.0,
        description="`mnemo serve` works out and stores a digest this often (0: never).",
    )
class CatalogSettings(BaseModel):
    """Where the catalog lives: SQLite in <home> unless a database URL is given."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr | None = Field(
        None,
        description="A PostgreSQL catalog shared by several processes and machines, "
        "postgresql+psycopg://user:password@host/db (or ?host=/socket/dir); "
        "default: SQLite in <home>/catalog.db.",
    )

    @field_validator("url", mode="before")
    @classmethod
    def _empty_is_sqlite(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class Settings(BaseSettings):
    """Everything Mnemo can be told. Passed explicitly to core functions."""

    model_config = SettingsConfigDict(
        env_prefix="MNEMO_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    home: Path = Field(description="Data directory: catalog, indexes and mnemo.toml.")
    collection: str = Field("default", description="Collection used when none is named.")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    research: ResearchSettings = Field(default_factory=ResearchSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    traces: TracesSettings = Field(default_factory=TracesSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        return validate_collection_name(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings() merges the layers itself so that it can tell where
        # each value came from; the model only validates the result.
        return (init_settings,)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.db"

    @property
    def index_path(self) -> Path:
        return self.home / "index"

    @property
    def ocr_cache_path(self) -> Path:
        return self.home / "cache" / "ocr"

    @property
    def settings_file(self) -> Path:
        return self.home / SETTINGS_FILE


def validate_collection_name(value: str) -> str:
    if not COLLECTION_NAME.match(value):
        raise ValueError(
            f"invalid collection name {value!r}: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("mnemo", appauthor=False))


def model_cache(settings: Settings | None) -> Path:
    """Where models exported to ONNX are kept (``embedding.cache_dir``)."""
    configured = settings.embedding.cache_dir if settings is not None else None
    if configured is not None:
        return configured.expanduser()
    return Path(platformdirs.user_cache_dir("mnemo", appauthor=False)) / "models"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}); fix the file or remove it") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file ({exc.strerror})") from exc
    if "home" in data:
        raise ConfigError(
            f"{path}: 'home' cannot be set inside the data directory; "
            "use --home or MNEMO_HOME instead"
        )
    return data


def _read_env() -> dict[str, Any]:
    source = EnvSettingsSource(Settings)
    values = source()
    values.pop("home", None)
    return values


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """Turn ``["chunking.max_tokens=256"]`` into ``{"chunking": {"max_tokens": "256"}}``."""
    result: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. chunking.max_tokens=256")
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


def _layers(home: Path, flags: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("mnemo.toml", _read_toml(home / SETTINGS_FILE)),
        ("env", _read_env()),
        ("flag", dict(flags)),
    ]


def _resolve_home(home: Path | str | None) -> tuple[Path, str]:
    if home is not None:
        return Path(home).expanduser().resolve(), "flag"
    env_home = os.environ.get("MNEMO_HOME")
    if env_home:
        return Path(env_home).expanduser().resolve(), "env"
    return default_home(), "default"


def _explain(exc: ValidationError, origins: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        origin = origins.get(key)
        where = f" (from {origin})" if origin else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting; see `mnemo config show` for the valid keys"
        problems.append(f"{key or 'settings'}{where}: {message}")
    return "invalid settings: " + "; ".join(problems)


def load_settings(
    home: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the effective settings. ``overrides`` are the command-line flags."""
    settings, _ = _load(home, overrides or {})
    return settings


def settings_provenance(
    home: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Settings, dict[str, str]]:
    """The effective settings and, for each dotted key, the layer that set it."""
    return _load(home, overrides or {})


def _load(home: Path | str | None, flags: Mapping[str, Any]) -> tuple[Settings, dict[str, str]]:
    resolved, home_origin = _resolve_home(home)
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, values in [*_layers(resolved, flags), (home_origin, {"home": resolved})]:
        merged = _deep_merge(merged, values)
        origins.update({key: origin for key in flatten(values)})
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origins)) from exc
    effective = flatten(settings.model_dump())
    return settings, {key: origins.get(key, "default") for key in effective}

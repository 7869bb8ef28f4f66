"""Settings of the production layer: guards on what reaches a model, the router's
chain of models, traces and the price table (see docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mnemo.registry import LLM_PROVIDERS


class GuardSettings(BaseModel):
    """What is checked before text goes to a model and after its answer comes back."""

    model_config = ConfigDict(extra="forbid")

    pii: Literal["off", "mask", "block"] = Field(
        "mask",
        description="Personal data in a question or passage bound for a remote model: off sends "
        "it as is; mask sends placeholders and restores the values in the answer locally; block "
        "sends nothing to that model (the next model in the chain, or an extractive answer).",
    )
    pii_entities: list[str] = Field(
        default_factory=list,
        description="Only these kinds (e.g. EMAIL_ADDRESS, IBAN_CODE); empty: every kind Mnemo "
        "recognises (docs/configuration.md lists them).",
    )
    pii_min_score: float = Field(
        0.4, ge=0, le=1, description="Findings scored under this are not treated as personal."
    )
    local_hosts: list[str] = Field(
        default_factory=list,
        description="Host names besides loopback and private addresses that count as local "
        "(e.g. a LAN name of the Ollama box); no DNS lookup is made to decide.",
    )
    injection: Literal["off", "flag", "withhold"] = Field(
        "withhold",
        description="Passages that read as instructions to a model: flag warns; withhold also "
        "replaces an answer that obeys them with an extractive one.",
    )


class RoutedModel(BaseModel):
    """One more model for the router's chain, after the one under [llm]."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field("openai-compatible", description="As llm.provider.")
    model: str = Field(description="The model name.")
    base_url: str | None = Field(None, description="As llm.base_url.")
    api_key: SecretStr | None = Field(None, description="As llm.api_key.")
    timeout: float = Field(120.0, gt=0, description="Seconds to wait for the server.")
    context_window: int = Field(8192, ge=512, description="Tokens the model accepts.")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        return LLM_PROVIDERS.check(value)


class RouterSettings(BaseModel):
    """A chain of models: the [llm] one first, then ``models`` in order, then extractive."""

    model_config = ConfigDict(extra="forbid")

    models: list[RoutedModel] = Field(
        default_factory=list,
        description="Models tried in order when the one before fails or its context is too "
        'small, e.g. [[router.models]] model = "gpt-4o-mini" under a remote base_url.',
    )
    retries: int = Field(
        0, ge=0, le=5, description="Times a failing model is asked again before the next one."
    )
    documents_to_largest: bool = Field(
        True,
        description="Whole-document tasks and research runs go first to the model with the "
        "largest context_window.",
    )


class TracesSettings(BaseModel):
    """Traces of requests and ingestion runs, and the price table for costs."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Record traces (spans) of asks and ingestion runs.")
    otlp_endpoint: str | None = Field(
        None,
        description="Also export spans by OTLP/HTTP to this URL, e.g. http://localhost:4318/v1/"
        "traces (needs opentelemetry-exporter-otlp-proto-http).",
    )
    file_mb: float = Field(
        20.0, gt=0, description="The JSONL file <home>/traces/spans.jsonl is rotated at this size."
    )
    drift_window: int = Field(
        50, ge=5, description="Answers per window when drift compares recent with earlier ones."
    )
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Dollars per million input and output tokens by model, e.g. "
        '{"gpt-4o-mini" = [0.15, 0.6]}; models not listed cost 0 (local).',
    )

"""Which language model writes answers: the provider named by ``llm.provider``.

Providers are registered in :data:`mnemo.registry.LLM_PROVIDERS`: the built-ins in
:mod:`mnemo.generation.builtin`, others by ``mnemo.llm_providers`` entry-point
plugins, each a factory ``(settings) -> LLM | None`` that imports its SDK only when
called; :func:`client_options` gives a backend its model, URL, key and limits.

The two SDKs in use (OpenAI's and Anthropic's) raise the same family of exceptions,
so :func:`sdk_error` turns either kind into an :class:`~mnemo.errors.LLMError` that
names the server and the model, says what to do, and never shows the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mnemo.errors import ConfigError, ContextWindowError, LLMError
from mnemo.generation.base import LLM, ChatMessage, ChatRequest, Completion
from mnemo.registry import LLM_PROVIDERS

if TYPE_CHECKING:
    from mnemo.config import Settings

# How servers say that the prompt does not fit: OpenAI, vLLM, llama.cpp, Anthropic.
_TOO_LONG = (
    "context_length_exceeded",
    "context length",
    "context size",
    "context window",
    "too many tokens",
    "prompt is too long",
)


def load_llm(settings: Settings) -> LLM | None:
    """The configured language model, or None for extractive answers: with
    ``[[router.models]]`` a chain of them, with remote ones behind the personal-data
    guard (:mod:`mnemo.generation.router`)."""
    from mnemo.generation.router import load_chain

    factory: Callable[[Settings], LLM | None] = LLM_PROVIDERS.get(settings.llm.provider)
    return load_chain(settings, factory)


def client_options(settings: Settings) -> dict[str, Any]:
    """What a backend class is built with: ``Backend(**client_options(settings))``
    passes ``model`` (ConfigError when llm.model is unset), ``base_url``,
    ``api_key``, ``timeout`` and ``max_retries``."""
    config = settings.llm
    if not config.model:
        raise ConfigError(
            "llm.model is not set: e.g. MNEMO_LLM__MODEL=llama3.1:8b, "
            'or --set llm.model=llama3.1:8b, or model = "llama3.1:8b" under [llm] in mnemo.toml'
        )
    return {
        "model": config.model,
        "base_url": config.base_url,
        "api_key": config.api_key.get_secret_value() if config.api_key else None,
        "timeout": config.timeout,
        "max_retries": config.max_retries,
    }


def describe(settings: Settings) -> str:
    """The provider, model and server, for messages: never the key."""
    config = settings.llm
    if config.provider == "none":
        return "no LLM (extractive answers)"
    where = config.base_url or "its default URL"
    return f"{config.provider} {config.model or '(no model)'} at {where}"


@dataclass(frozen=True)
class LLMCheck:
    """What `mnemo llm test` and the settings page show: which model, its reply, the time."""

    described: str
    reply: Completion
    seconds: float


def check(llm: LLM) -> tuple[Completion, float]:
    """Send a tiny request; return the reply and the seconds it took."""
    request = ChatRequest(
        system="You are a connection test. Follow the instruction exactly.",
        messages=[ChatMessage("user", "Reply with the word: ready")],
        max_tokens=16,
        temperature=0.0,
    )
    started = time.perf_counter()
    completion = llm.complete(request)
    return completion, time.perf_counter() - started


@dataclass(frozen=True)
class Endpoint:
    """Where a backend sends requests; the key is kept only to scrub it from messages."""

    url: str
    model: str
    key: str | None = None


def sdk_error(
    exc: Exception, sdk: ModuleType, at: Endpoint, *, partial: str | None = None
) -> LLMError:
    """Turn an OpenAI or Anthropic SDK exception into a one-line LLMError.

    ``partial`` is None before a reply started, else the text streamed so far: a
    failure then means the reply broke off, whatever the exception.
    """
    kind, message, retryable = _explain(exc, sdk, at, streaming=partial is not None)
    if at.key:
        message = message.replace(at.key, "***")
    return kind(message, partial=partial or "", retryable=retryable)


def unfinished(at: Endpoint, partial: str) -> LLMError:
    """A stream that ended without its end marker, e.g. cut by a proxy on the way."""
    return LLMError(
        f"LLM server {at.url} (model {at.model!r}) ended its reply without saying it was "
        "done; try again",
        partial=partial,
        retryable=True,
    )


def _explain(
    exc: Exception, sdk: ModuleType, at: Endpoint, *, streaming: bool
) -> tuple[type[LLMError], str, bool]:
    """The error class, the message and whether trying again may help."""
    url, model, detail = at.url, at.model, _detail(exc)
    who = f"LLM server {url} (model {model!r})"
    if streaming:
        return LLMError, f"{who} broke off its reply ({detail}); try again", True
    if isinstance(exc, sdk.APITimeoutError):
        message = f"{who} did not answer in time; try again or raise llm.timeout"
        return LLMError, message, True
    if isinstance(exc, sdk.APIConnectionError):
        message = f"LLM server {url} is unreachable ({detail}); start it or fix llm.base_url"
        return LLMError, message, True
    if not isinstance(exc, sdk.APIStatusError):
        message = (
            f"{who} sent a reply Mnemo cannot read ({detail}); check llm.provider and llm.base_url"
        )
        return LLMError, message, False
    status = exc.status_code
    if any(marker in f"{detail} {exc.body}".lower() for marker in _TOO_LONG):
        message = (
            f"the prompt is too long for model {model!r} at {url} ({detail}); "
            "lower llm.context_window or answer.context_tokens"
        )
        return ContextWindowError, message, False
    if status in (401, 403):
        message = f"{who} rejected the API key ({status}); set MNEMO_LLM__API_KEY"
        return LLMError, message, False
    if status == 404:
        message = f"model {model!r} is unknown to {url} ({detail}); check llm.model"
        return LLMError, message, False
    if status == 429:
        message = f"{who} is rate-limiting requests ({detail}); wait and try again"
        return LLMError, message, True
    message = f"{url} answered {status} for model {model!r}: {detail}"
    return LLMError, message, status >= 500 or status in (408, 409)


def _detail(exc: BaseException) -> str:
    """The server's own message if it sent one, else the underlying exception."""
    body = getattr(exc, "body", None)
    message = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(message, dict):
        message = message.get("message")
    if not isinstance(message, str) or not message.strip():
        root = exc.__cause__ or exc
        message = f"{type(root).__name__}: {root}"
    return " ".join(message.split())[:300]

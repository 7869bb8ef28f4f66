"""The chain of models that write answers: ``[llm]`` first, then ``[[router.models]]``.

:func:`load_chain` builds it from the settings. Each model's URL is checked first,
before any client exists: with ``llm.local_only`` a model that is not on this
machine or a private network is refused (ConfigError); a remote one is put behind
the personal-data guard (:mod:`mnemo.generation.guarded`) unless ``guard.pii = off``.

:class:`Router` asks the models in order. A model is skipped when the prompt (about
four characters a token) does not fit its ``context_window``, asked again
``router.retries`` times when its error may pass, and left for the next one when it
fails, is blocked by the guard or says the prompt is too long. The reply says which
model wrote it and which were passed over; when all fail, the LLMError lists why, and
the answer is extractive (the last step). Whole-document tasks go first to the model
with the largest context (:meth:`Router.largest_first`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mnemo.errors import ConfigError, ContextWindowError, LLMError
from mnemo.generation.base import LLM, ChatRequest, Completion, StreamPart
from mnemo.generation.locality import is_local, model_url

if TYPE_CHECKING:
    from mnemo.config import Settings

_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Route:
    llm: LLM
    label: str  # "provider:model"
    window: int  # its context_window, in tokens
    max_answer_tokens: int


def load_chain(settings: Settings, factory: Callable[[Settings], LLM | None]) -> LLM | None:
    """The configured model, or a Router over the chain; None for extractive answers."""
    from mnemo.registry import LLM_PROVIDERS

    routes = []
    for config in _configs(settings):
        factory_for = factory if config is settings.llm else LLM_PROVIDERS.get(config.provider)
        url = model_url(config.provider, config.base_url)
        local = is_local(url, settings.guard.local_hosts)
        if config.provider != "none" and settings.llm.local_only and not local:
            raise ConfigError(
                f"llm.local_only is true and {config.provider} model {config.model!r} at "
                f"{url or 'an unknown URL'} is not on this machine or a private network: "
                "point its base_url at a local server, list its host in guard.local_hosts, "
                "or set llm.local_only = false"
            )
        llm = factory_for(replace_llm(settings, config))
        if llm is None:
            continue
        if not local and settings.guard.pii != "off":
            from mnemo.generation.guarded import PrivacyGuard

            llm = PrivacyGuard(llm, settings.guard.pii, settings.guard, url or config.provider)
        label = f"{llm.provider}:{llm.model}"
        routes.append(Route(llm, label, config.context_window, settings.llm.max_answer_tokens))
    if not routes:
        return None
    if len(routes) == 1 and settings.router.retries == 0:
        return routes[0].llm
    return Router(routes, settings.router.retries)


def replace_llm(settings: Settings, config: object) -> Settings:
    """``settings`` with ``[llm]`` taken from a router entry (the same one for [llm])."""
    if config is settings.llm:
        return settings
    fields = {k: getattr(config, k) for k in type(config).model_fields}  # type: ignore[attr-defined]
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=fields)})


def _configs(settings: Settings) -> list[object]:
    return [settings.llm, *settings.router.models]


class Router:
    def __init__(self, routes: list[Route], retries: int = 0) -> None:
        self.routes = routes
        self.retries = retries
        self.provider = routes[0].llm.provider
        self.model = routes[0].llm.model
        self.context_window = routes[0].window
        self.largest_window = max(r.window for r in routes)

    def largest_first(self) -> Router:
        """The same chain, the model with the largest context first (stable otherwise)."""
        ordered = sorted(self.routes, key=lambda r: -r.window)
        return Router(ordered, self.retries)

    def complete(self, request: ChatRequest) -> Completion:
        notes: list[str] = []
        failures: list[tuple[str, LLMError]] = []
        for route in self._fitting(request, notes):
            for attempt in range(self.retries + 1):
                try:
                    reply = route.llm.complete(request)
                except LLMError as exc:
                    retry = exc.retryable and not isinstance(exc, ContextWindowError)
                    if retry and attempt < self.retries:
                        continue
                    failures.append((route.label, exc))
                    break
                reply.model = route.label
                reply.notes = [*notes, *_passed(failures), *reply.notes]
                return reply
        raise self._all_failed(failures)

    def stream(self, request: ChatRequest) -> Iterator[StreamPart]:
        notes: list[str] = []
        failures: list[tuple[str, LLMError]] = []
        for route in self._fitting(request, notes):
            for attempt in range(self.retries + 1):
                started = False
                try:
                    for part in route.llm.stream(request):
                        if part.finish_reason is not None or part.usage is not None:
                            part = replace(
                                part,
                                model=route.label,
                                notes=(*notes, *_passed(failures), *part.notes),
                            )
                        started = started or bool(part.text)
                        yield part
                    return
                except LLMError as exc:
                    if started:  # text was shown: the answer cannot switch models now
                        raise
                    if (
                        exc.retryable
                        and attempt < self.retries
                        and not isinstance(exc, ContextWindowError)
                    ):
                        continue
                    failures.append((route.label, exc))
                    break
        raise self._all_failed(failures)

    def _fitting(self, request: ChatRequest, notes: list[str]) -> list[Route]:
        tokens = _estimate(request)
        fitting = [r for r in self.routes if tokens + r.max_answer_tokens <= r.window]
        for route in self.routes:
            if route not in fitting:
                notes.append(
                    f"{route.label} was skipped: the prompt (about {tokens:,} tokens) does not "
                    f"fit its context_window {route.window:,}"
                )
        return fitting or self.routes[-1:]  # none fits: the last one says so itself

    @staticmethod
    def _all_failed(failures: list[tuple[str, LLMError]]) -> LLMError:
        if len(failures) == 1:
            return failures[0][1]
        kind = LLMError
        if all(isinstance(exc, ContextWindowError) for _, exc in failures):
            kind = ContextWindowError
        listed = "; ".join(f"{label}: {exc}" for label, exc in failures)
        return kind(f"every model in the chain failed: {listed}")


def _passed(failures: list[tuple[str, LLMError]]) -> list[str]:
    return [f"{label} failed, the next model answered: {exc}" for label, exc in failures]


def _estimate(request: ChatRequest) -> int:
    chars = len(request.system) + sum(len(m.content) for m in request.messages)
    return chars // _CHARS_PER_TOKEN + 1

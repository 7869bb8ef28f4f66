"""The built-in LLM providers, registered the way a ``mnemo.llm_providers`` plugin registers.

A provider's factory takes the settings and returns an
:class:`~mnemo.generation.base.LLM`, or None for no model (extractive answers).
Each SDK is imported only when its provider is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnemo.config import Settings
    from mnemo.generation.base import LLM


def openai_compatible(settings: Settings) -> LLM:
    from mnemo.generation.openai_chat import OpenAIChat
    from mnemo.generation.providers import client_options

    return OpenAIChat(**client_options(settings))


def anthropic(settings: Settings) -> LLM:
    from mnemo.generation.anthropic_chat import AnthropicChat
    from mnemo.generation.providers import client_options

    return AnthropicChat(**client_options(settings))


def none(settings: Settings) -> None:
    return None


def register(register: Callable[[str, Callable[[Settings], LLM | None]], None]) -> None:
    register("openai-compatible", openai_compatible)
    register("anthropic", anthropic)
    register("none", none)

"""The one settings object: defaults < ``mnemo.toml`` < ``MNEMO_*`` env < flags.

The names load from :mod:`mnemo.config.settings` on first use, so that a module of
this package that needs no settings model (:mod:`mnemo.config.serving`, which the
CLI reads before handing a command to a running server) does not import pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "ChunkingSettings",
    "IngestSettings",
    "Settings",
    "default_home",
    "load_settings",
    "settings_provenance",
]

if TYPE_CHECKING:
    from mnemo.config.settings import (
        ChunkingSettings,
        IngestSettings,
        Settings,
        default_home,
        load_settings,
        settings_provenance,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("mnemo.config.settings"), name)
    raise AttributeError(f"module 'mnemo.config' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), *__all__]

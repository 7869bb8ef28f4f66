"""The one settings object: defaults < ``mnemo.toml`` < ``MNEMO_*`` env < flags."""

from mnemo.config.settings import (
    ChunkingSettings,
    IngestSettings,
    Settings,
    default_home,
    load_settings,
    settings_provenance,
)

__all__ = [
    "ChunkingSettings",
    "IngestSettings",
    "Settings",
    "default_home",
    "load_settings",
    "settings_provenance",
]

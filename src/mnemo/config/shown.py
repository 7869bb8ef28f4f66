"""Settings as `mnemo config show` and the web app's settings page show them: every
dotted key, its value (secrets masked) and the layer it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from mnemo.config.settings import Settings, flatten, settings_provenance

_SHOWN_TAIL = 4  # characters of a long secret shown, so a reader can tell keys apart


@dataclass(frozen=True)
class SettingShown:
    key: str
    value: Any  # JSON-able; a secret is masked
    origin: str  # default, mnemo.toml, env, flag


def mask_secret(secret: str) -> str:
    """``********`` and, for a secret long enough that it gives little away, its last
    four characters: enough to recognise a key, never enough to use it."""
    if len(secret) >= 16:
        return "********" + secret[-_SHOWN_TAIL:]
    return "********"


def shown_settings(settings: Settings, origins: Mapping[str, str]) -> list[SettingShown]:
    """Every setting, in the model's order, with its origin; secrets masked."""
    values = flatten(settings.model_dump(mode="json"))
    raw = flatten(settings.model_dump())
    rows = []
    for key, value in values.items():
        secret = raw.get(key)
        if isinstance(secret, SecretStr):
            value = mask_secret(secret.get_secret_value())
        rows.append(SettingShown(key, value, origins.get(key, "default")))
    return rows


def origins_of(settings: Settings) -> dict[str, str]:
    """Where a running ``settings`` object's values came from: its home's mnemo.toml and
    the environment are read again; a value that differs from what they give was set
    by a flag when the process started."""
    fresh, origins = settings_provenance(settings.home)
    now, then = flatten(settings.model_dump()), flatten(fresh.model_dump())
    return {key: origins[key] if then.get(key) == now[key] else "flag" for key in now}

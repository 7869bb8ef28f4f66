"""Per-collection settings that `mnemo eval tune --save` found for a collection.

They live in ``<home>/tuned/<collection>.json`` and apply to that collection's
searches and answers on top of the global settings. Only the settings tuning
searches may be kept there (:data:`TUNABLE`); deleting the file, or
`mnemo eval tune --reset`, returns the collection to the global settings.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mnemo.config.private import FILE_MODE, private_dir
from mnemo.config.settings import Settings
from mnemo.errors import ConfigError

#: the settings `mnemo eval tune` searches, and so the only ones kept per collection
TUNABLE = (
    "search.dense_weight",
    "search.candidates",
    "answer.neighbours",
    "answer.min_relevance",
    "answer.min_rerank_score",
)


def tuned_path(settings: Settings, collection: str) -> Path:
    return settings.home / "tuned" / f"{collection}.json"


def read_tuned(settings: Settings, collection: str) -> dict[str, Any]:
    """The values saved for ``collection`` (empty when none); ConfigError naming the
    file when it is not valid."""
    path = tuned_path(settings, collection)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc}); delete it or tune again") from exc
    values = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(values, dict) or any(k not in TUNABLE for k in values):
        raise ConfigError(
            f"{path}: 'settings' must map some of {', '.join(TUNABLE)} to values; "
            "delete the file or tune again"
        )
    return values


def with_tuned(settings: Settings, collection: str) -> Settings:
    """``settings`` with the values saved for ``collection`` applied (the same object
    when there are none)."""
    values = read_tuned(settings, collection)
    if not values:
        return settings
    return apply(settings, values, where=str(tuned_path(settings, collection)))


def apply(settings: Settings, values: dict[str, Any], *, where: str = "tuning") -> Settings:
    """A copy of ``settings`` with dotted ``values`` (``{"search.dense_weight": 0.5}``)."""
    data = settings.model_dump()
    for key, value in values.items():
        section, name = key.split(".", 1)
        data[section][name] = value
    try:
        return Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def save_tuned(
    settings: Settings, collection: str, values: dict[str, Any], note: dict[str, Any]
) -> Path:
    """Keep ``values`` for ``collection`` (checked first), with ``note`` saying how they
    were found."""
    bad = [k for k in values if k not in TUNABLE]
    if bad:
        raise ConfigError(f"{bad[0]}: not a setting kept per collection ({', '.join(TUNABLE)})")
    apply(settings, values)
    private_dir(settings.home / "tuned")
    path = tuned_path(settings, collection)
    body = {
        "settings": values,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "how": note,
    }
    temporary = path.with_suffix(".tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with open(handle, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=2)
    temporary.replace(path)
    return path


def reset_tuned(settings: Settings, collection: str) -> bool:
    """Forget what was saved for ``collection``; False when nothing was."""
    try:
        tuned_path(settings, collection).unlink()
    except FileNotFoundError:
        return False
    return True

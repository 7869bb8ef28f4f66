"""`mnemo config set`: change one setting in the data directory's ``mnemo.toml``.

The value is checked by the same Settings model that reads the file, so a file
this writes always loads. The file is edited line by line, keeping the user's
comments and order; only when that cannot be done (a value spread over several
lines, say) is it written out again whole.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from mnemo.config.settings import (
    SETTINGS_FILE,
    Settings,
    _explain,
    _read_toml,
    _resolve_home,
    flatten,
)
from mnemo.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\s]+?)\s*\]\s*(#.*)?$")


def set_setting(home: Path | str | None, key: str, value: str) -> tuple[Path, Any]:
    """Write ``key = value`` into the data directory's ``mnemo.toml`` (``home`` as for
    :func:`load_settings`); returns the file and the value as stored (typed: ``"256"``
    becomes 256). ConfigError, in one line, if the key is unknown or the value invalid;
    the file is then left as it was."""
    home, _ = _resolve_home(home)
    key = key.strip()
    if not _KEY.match(key):
        raise ConfigError(f"{key!r} is not a setting name: use e.g. chunking.max_tokens")
    if key == "home":
        raise ConfigError("'home' cannot be set in mnemo.toml: use --home or MNEMO_HOME")
    if key not in flatten(Settings(home=home).model_dump()):
        raise ConfigError(f"{key}: unknown setting; see `mnemo config show` for the valid keys")
    path = home / SETTINGS_FILE
    data = _read_toml(path)
    stored = _validated(home, data, key, value)
    new = _with(data, key, stored)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    edited = _edit_lines(text, key, stored)
    try:
        fits = edited is not None and tomllib.loads(edited) == new
    except tomllib.TOMLDecodeError:
        fits = False
    _write(path, edited if fits and edited is not None else dumps(new))
    return path, stored


def set_settings(home: Path | str | None, changes: Mapping[str, str | None]) -> Path:
    """Several settings at once (``None`` removes one from the file): all are checked
    together first, so a bad one leaves the file as it was."""
    home, _ = _resolve_home(home)
    path = home / SETTINGS_FILE
    data = _read_toml(path)
    for key, value in changes.items():
        if value is not None:
            data = _with(data, key, _validated(home, data, key, value))
        else:
            data = _without(data, key)
    try:
        Settings(**data, home=home)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, {})) from None
    for key, value in changes.items():
        if value is None:
            unset_setting(home, key)
        else:
            set_setting(home, key, value)
    return path


def unset_setting(home: Path | str | None, key: str) -> Path:
    """Remove ``key`` from the data directory's ``mnemo.toml`` (its default, or the
    environment's value, applies again); returns the file. Nothing happens if the file
    does not set it."""
    home, _ = _resolve_home(home)
    if not _KEY.match(key.strip()):
        raise ConfigError(f"{key!r} is not a setting name: use e.g. llm.base_url")
    path = home / SETTINGS_FILE
    data = _read_toml(path)
    new = _without(data, key.strip())
    if new == data:
        return path
    try:
        Settings(**new, home=home)  # a file without it must still load
    except ValidationError as exc:
        raise ConfigError(_explain(exc, {})) from None
    text = path.read_text(encoding="utf-8")
    table, _, leaf = key.strip().rpartition(".")
    edited = _drop_line(text, table, leaf)
    try:
        fits = edited is not None and tomllib.loads(edited) == new
    except tomllib.TOMLDecodeError:
        fits = False
    _write(path, edited if fits and edited is not None else dumps(new))
    return path


def _without(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    head, _, rest = key.partition(".")
    copy = dict(data)
    if not rest:
        copy.pop(head, None)
    elif isinstance(copy.get(head), Mapping):
        copy[head] = _without(copy[head], rest)
    return copy


def _drop_line(text: str, table: str, leaf: str) -> str | None:
    """``text`` without the line that sets ``leaf`` in ``table``; None if not found."""
    lines = text.splitlines()
    current = ""
    assignment = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for index, raw in enumerate(lines):
        if m := _TABLE.match(raw):
            current = re.sub(r"\s+", "", m.group(1))
        elif current == table and assignment.match(raw):
            if raw.rstrip().endswith(("[", "{", '"""', "'''")):
                return None
            del lines[index]
            return "\n".join(lines) + "\n"
    return None


def _validated(home: Path, data: dict[str, Any], key: str, value: str) -> Any:
    """The value as the Settings model stores it; JSON is tried for lists and tables."""
    candidates: list[Any] = [value]
    try:
        candidates.append(json.loads(value))
    except ValueError:
        pass
    error: ValidationError | None = None
    for candidate in candidates:
        try:
            settings = Settings(**_with(data, key, candidate), home=home)
        except ValidationError as exc:
            error = error or exc
            continue
        stored: Any = settings.model_dump(mode="json")
        secret: Any = settings
        for part in key.split("."):
            stored = stored[part]
            secret = getattr(secret, part, None)
        if isinstance(secret, SecretStr):  # dumped masked: the file keeps the secret itself
            stored = secret.get_secret_value()
        if stored is None:
            raise ConfigError(f"{key}: cannot be set to nothing in mnemo.toml")
        return stored
    assert error is not None
    raise ConfigError(_explain(error, {key: "mnemo config set"})) from None


def _with(data: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the dotted ``key`` set to ``value``."""
    head, _, rest = key.partition(".")
    copy = dict(data)
    if not rest:
        copy[head] = value
    else:
        inner = copy.get(head)
        copy[head] = _with(inner if isinstance(inner, Mapping) else {}, rest, value)
    return copy


def _edit_lines(text: str, key: str, value: Any) -> str | None:
    """``text`` with the key's line replaced, or added to its table (made if missing);
    None when the file does not lend itself to a line edit."""
    table, _, leaf = key.rpartition(".")
    line = f"{leaf} = {_value(value)}"
    lines = text.splitlines()
    headers = [
        (i, re.sub(r"\s+", "", m.group(1)))
        for i, raw in enumerate(lines)
        if (m := _TABLE.match(raw))
    ]
    if table:
        found = [i for i, name in headers if name == table]
        if not found:  # no such table yet: add it at the end
            block = ([""] if lines and lines[-1].strip() else []) + [f"[{table}]", line]
            return "\n".join(lines + block) + "\n"
        start = found[0] + 1
    else:
        start = 0
    end = next((i for i, _ in headers if i >= start), len(lines))
    assignment = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for index in range(start, end):
        if assignment.match(lines[index]):
            if lines[index].rstrip().endswith(("[", "{", '"""', "'''")):
                return None  # a value over several lines
            lines[index] = line
            return "\n".join(lines) + "\n"
    while end > start and not lines[end - 1].strip():
        end -= 1  # after the table's last line, before the blank lines that end it
    lines[end:end] = [line, ""] if end < len(lines) and _TABLE.match(lines[end]) else [line]
    return "\n".join(lines) + "\n"


def dumps(data: Mapping[str, Any], table: str = "") -> str:
    """Settings data as TOML: plain values first, then one table per section."""
    blocks = []
    plain = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    if plain:
        blocks.append("\n".join(([f"[{table}]"] if table else []) + plain))
    for k, v in data.items():
        if isinstance(v, Mapping):
            inner = dumps(v, f"{table}.{k}" if table else k).strip()
            if inner:
                blocks.append(inner)
    return "\n\n".join(blocks) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} to mnemo.toml")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".mnemo.toml.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

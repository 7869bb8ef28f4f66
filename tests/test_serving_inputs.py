"""What the CLI reads, without the settings models, before handing a command to `mnemo serve`.

:func:`mnemo.config.serving.resolve` must give the home and collection that
:func:`mnemo.config.load_settings` gives, or None where the loader would report a
problem; :func:`mnemo.config.serving.inputs` must change whenever the settings can.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemo.config import load_settings, serving
from mnemo.config.settings import COLLECTION_NAME
from mnemo.errors import ConfigError


def _both(
    home: str | None, assignments: list[str], collection: str | None = None
) -> tuple[tuple[Path, str] | None, tuple[Path, str] | str]:
    """(what resolve() says, what the settings loader says) for the same flags."""
    from mnemo.config.settings import parse_assignments

    quick = serving.resolve(home, assignments, collection)
    try:
        overrides = parse_assignments(assignments)
        if collection is not None:
            overrides["collection"] = collection
        settings = load_settings(home, overrides)
    except ConfigError as exc:
        return quick, str(exc)
    return quick, (settings.home, settings.collection)


CASES = {
    "defaults": ({}, "", None, [], None),
    "the file's collection": ({}, 'collection = "notes"\n', None, [], None),
    "env over the file": ({"MNEMO_COLLECTION": "work"}, 'collection = "notes"\n', None, [], None),
    "env in lower case": ({"mnemo_collection": "work"}, "", None, [], None),
    "--set over env": ({"MNEMO_COLLECTION": "work"}, "", None, ["collection=papers"], None),
    "the last --set": ({}, "", None, ["collection=a", "collection=b"], None),
    "-c over --set": ({}, "", None, ["collection=papers"], "mail"),
    "--home over MNEMO_HOME": ({}, "", "flag", [], None),
    "a relative --home": ({}, "", "./here", [], None),
    "a ~ --home": ({}, "", "~/data", [], None),
    "the user data dir": ({"MNEMO_HOME": None}, "", None, [], None),
    "empty MNEMO_HOME": ({"MNEMO_HOME": ""}, "", None, [], None),
    "other settings": (
        {"MNEMO_SEARCH__RRF_K": "5"},
        "[answer]\npassages = 4\n",
        None,
        ["search.mode=bm25"],
        None,
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_resolve_gives_what_the_settings_loader_gives(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, toml, home_flag, assignments, collection = CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    homes = {None: tmp_path / "env-home", "flag": tmp_path / "flag-home"}
    monkeypatch.setenv("MNEMO_HOME", str(homes[None]))
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key)
        else:
            monkeypatch.setenv(key, value)
    flag = str(homes["flag"]) if home_flag == "flag" else home_flag
    quick, loaded = _both(flag, assignments, collection)
    written = loaded[0] if isinstance(loaded, tuple) else homes[None]
    written.mkdir(parents=True, exist_ok=True)
    (written / "mnemo.toml").write_text(toml)
    quick, loaded = _both(flag, assignments, collection)
    assert isinstance(loaded, tuple), loaded
    assert quick == loaded


BAD = {
    "invalid TOML": ({}, "collection = \n", []),
    "home in the file": ({}, 'home = "/elsewhere"\n', []),
    "a bad name in the file": ({}, 'collection = "a b"\n', []),
    "a name that is not text": ({}, "collection = 5\n", []),
    "a bad name in env": ({"MNEMO_COLLECTION": "../x"}, "", []),
    "an empty name in env": ({"MNEMO_COLLECTION": ""}, "", []),
    "a bad --set name": ({}, "", ["collection=-x"]),
    "a table for a name": ({}, "", ["collection.x=1"]),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_resolve_leaves_what_is_wrong_to_the_settings_loader(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, toml, assignments = BAD[case]
    monkeypatch.setenv("MNEMO_HOME", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "mnemo.toml").write_text(toml)
    quick, loaded = _both(None, assignments)
    assert quick is None
    assert isinstance(loaded, str)  # the loader's one-line error, which the command shows


def test_collection_names_are_checked_alike() -> None:
    assert serving._COLLECTION_NAME.pattern == COLLECTION_NAME.pattern


def test_the_inputs_digest_changes_with_anything_settings_are_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNEMO_HOME", str(tmp_path))
    first = serving.inputs(tmp_path, [])
    assert serving.inputs(tmp_path, []) == first
    # The default collection is not an input: each request names its collection.
    monkeypatch.setenv("MNEMO_COLLECTION", "work")
    assert serving.inputs(tmp_path, ["collection=x"]) == first
    changed = {
        "a --set": serving.inputs(tmp_path, ["search.rrf_k=5"]),
        "another home": serving.inputs(tmp_path / "other", []),
    }
    monkeypatch.setenv("MNEMO_SERVER__PORT", "9")  # even where it listens: stay safe
    changed["an env variable"] = serving.inputs(tmp_path, [])
    monkeypatch.delenv("MNEMO_SERVER__PORT")
    (tmp_path / "mnemo.toml").write_text("[search]\nrrf_k = 5\n")
    changed["the file"] = serving.inputs(tmp_path, [])
    for what, digest in changed.items():
        assert digest != first, what
    assert len(set(changed.values())) == len(changed)

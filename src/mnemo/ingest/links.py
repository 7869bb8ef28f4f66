"""Which note a link points to, resolved the way Obsidian resolves it.

A link names a file by the end of its path (``[[Note]]``, ``[[folder/Note]]``,
``[[picture.png]]``, ``[text](../Note.md)``); ``.md`` may be left out. When
several files match, the one next to the linking note wins, then the shortest
path (Obsidian's "shortest path when possible"). A name no file has may be an
alias from a note's front matter (``aliases: [AI]``). What nothing matches is a
missing note, kept under its name so that a note created later resolves it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_WIKILINK = re.compile(r"\[\[([^\[\]|#^\n]*)(?:#([^\[\]|\n]*))?(?:\|[^\[\]\n]*)?\]\]")


def link_key(target: str) -> str:
    """How a link target is compared: lower case, forward slashes, no ``.md``."""
    key = target.strip().replace("\\", "/").lower()
    while key.startswith("./"):
        key = key[2:]
    return key.removesuffix(".md").strip("/")


def base_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def aliases_of(meta: dict[str, Any] | None) -> list[str]:
    front = (meta or {}).get("front_matter") or {}
    raw = front.get("aliases", front.get("alias"))
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [str(a).strip() for a in raw if str(a).strip()]


@dataclass(frozen=True)
class LinkRef:
    """One link as a note wrote it."""

    target: str
    anchor: str | None
    kind: str  # link or embed
    origin: str  # wikilink, markdown or front-matter


def link_refs(meta: dict[str, Any] | None) -> list[LinkRef]:
    """The links of a parsed note (its ``link_refs``; older catalogs only hold the
    names in ``links`` and ``embeds``), and wikilinks in front matter properties."""
    meta = meta or {}
    refs: list[LinkRef] = []
    stored = meta.get("link_refs")
    if isinstance(stored, list):
        for ref in stored:
            if isinstance(ref, dict) and isinstance(ref.get("target"), str):
                kind = "embed" if ref.get("embed") else "link"
                anchor = ref.get("anchor") if isinstance(ref.get("anchor"), str) else None
                refs.append(
                    LinkRef(ref["target"], anchor, kind, str(ref.get("origin", "wikilink")))
                )
    else:
        for kind, key in (("link", "links"), ("embed", "embeds")):
            for name in meta.get(key) or []:
                if isinstance(name, str):
                    refs.append(LinkRef(name, None, kind, "wikilink"))
    for value in _strings(meta.get("front_matter") or {}):
        for match in _WIKILINK.finditer(value):
            if match.group(1).strip():
                refs.append(LinkRef(match.group(1).strip(), match.group(2), "link", "front-matter"))
    return refs


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


@dataclass(frozen=True)
class Note:
    id: str
    path: str  # the document's path
    root: str  # the folder of the source it came from (the vault)
    aliases: tuple[str, ...] = ()

    @property
    def relative(self) -> str:
        rel = posixpath.relpath(self.path.replace("\\", "/"), self.root.replace("\\", "/"))
        return rel if not rel.startswith("..") else self.path.lstrip("/")


def file_name_key(path_or_name: str) -> str:
    """A loose form of the name a note is found by (``b`` for ``a/B.md``): equal for a note
    and a link to it, so it picks the notes a link may mean (the resolver then decides)."""
    name = posixpath.basename(path_or_name.replace("\\", "/"))
    return name.strip().lower().removesuffix(".md").strip()


def lookup_key(target: str, source: Note) -> tuple[str, str]:
    """The key ``target`` is looked up by from ``source``, and the folder of ``source``."""
    key = link_key(target)
    here = posixpath.dirname(link_key(source.relative))
    if key.startswith("../") or "/../" in key:  # a relative Markdown link
        key = posixpath.normpath(posixpath.join(here, key))
    return key, here


def wanted_names(target: str, source: Note) -> tuple[str, str]:
    """What resolving ``target`` from ``source`` looks at: a file name, and an alias."""
    key, _ = lookup_key(target, source)
    return (file_name_key(base_name(key)) if link_key(target) else ""), target.strip().lower()


class Resolver:
    """Resolves link targets against a set of notes."""

    def __init__(self, notes: Iterable[Note]) -> None:
        self._by_name: dict[str, list[tuple[str, Note]]] = {}
        self._by_alias: dict[str, list[Note]] = {}
        for note in notes:
            key = link_key(note.relative)
            self._by_name.setdefault(base_name(key), []).append((key, note))
            for alias in note.aliases:
                self._by_alias.setdefault(alias.lower(), []).append(note)

    def resolve(self, target: str, source: Note) -> Note | None:
        """The note ``target`` names from ``source``; None for a missing note."""
        key, here = lookup_key(target, source)
        if not key:
            return None
        found = [
            (path, note)
            for path, note in self._by_name.get(base_name(key), [])
            if path == key or path.endswith("/" + key)
        ]
        if found:
            beside = posixpath.join(here, key) if here else key
            for path, note in found:
                if path == beside:
                    return note
            found.sort(key=lambda item: (item[0].count("/"), len(item[0]), item[0]))
            return found[0][1]
        named = self._by_alias.get(target.strip().lower(), [])
        if named:
            return min(named, key=lambda n: (n.relative.count("/"), len(n.relative), n.relative))
        return None

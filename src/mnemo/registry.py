"""One registry shape for every pluggable part: name -> factory.

Each kind (parsers, embedders, LLM providers, index stores, rerankers) has one
:class:`Registry`. Its built-ins live in a module with a ``register(register)``
function, exactly the shape of a third-party plugin's entry point, so built-ins
and plugins go through the same call (as simonw/llm's default plugins do)::

    # a plugin's pyproject.toml
    [project.entry-points."mnemo.embedders"]
    mine = "mnemo_mine:register"

    # mnemo_mine.py
    def register(register):
        register("mine", make_embedder)   # make_embedder imports its backend when called

Factories are lazy: registering one imports nothing heavy. Built-ins are loaded
on first use; entry points are loaded once, on first use that needs them (a
known built-in name is answered without scanning installed packages). A plugin
that fails to load is a one-line :class:`~mnemo.errors.ConfigError` naming it.

This module sits at the bottom layer: it imports only the standard library and
:mod:`mnemo.errors` (built-in modules are named as strings, imported on demand).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from mnemo.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of pluggable part, each with its factory.

    ``kind`` names the part in messages ("embedding backend"), ``group`` is the
    entry-point group plugins register under ("mnemo.embedders") and ``builtins``
    the modules whose ``register(register)`` adds the built-ins.
    """

    def __init__(self, kind: str, group: str, builtins: Sequence[str] = ()) -> None:
        self.kind = kind
        self.group = group
        self._builtin_modules = tuple(builtins)
        self._entries: dict[str, T] = {}
        self._builtins_loaded = False
        self._plugins_loaded = False
        self._loading = False
        self._lock = threading.RLock()

    # -- registering ----------------------------------------------------------------

    def register(self, name: str, factory: T) -> None:
        """Make ``name`` build with ``factory``; a later registration of a name replaces it."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{self.kind}: cannot register {name!r}: give a non-empty name")
        with self._lock:
            if not self._loading:
                # Registered from code: load what is installed first, so that this
                # registration is not replaced when built-ins or plugins load later.
                self._load(plugins=True)
            self._entries[name] = factory

    @property
    def hook(self) -> Callable[..., None]:
        """The callable handed to a plugin's ``register(register)``."""
        return self.register

    def reload(self) -> None:
        """Forget every registration, so that the next use loads the built-ins and
        scans the entry points again (after installing a plugin in a running process)."""
        with self._lock:
            self._entries.clear()
            self._builtins_loaded = self._plugins_loaded = False

    # -- looking up -----------------------------------------------------------------

    def names(self) -> list[str]:
        """Every registered name, built-ins and plugins, sorted."""
        self._load(plugins=True)
        return sorted(self._entries)

    def get(self, name: str) -> T:
        """The factory of ``name``; ConfigError listing the valid names if there is none."""
        found = self._find(name)
        if found is None:
            raise ConfigError(self.unknown(name))
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def check(self, name: str) -> str:
        """``name`` if it is registered, else ValueError with the choices (a pydantic
        field validator calls this instead of a ``Literal``)."""
        if self._find(name) is None:
            raise ValueError(self.unknown(name))
        return name

    def unknown(self, name: str) -> str:
        """The message for a name that is not registered: it lists the valid ones."""
        return f"unknown {self.kind} {name!r}: choose one of {', '.join(self.names())}"

    def _find(self, name: str) -> T | None:
        self._load(plugins=False)
        if name not in self._entries:
            self._load(plugins=True)
        return self._entries.get(name)

    # -- loading ----------------------------------------------------------------------

    def _load(self, *, plugins: bool) -> None:
        if self._builtins_loaded and (self._plugins_loaded or not plugins):
            return
        with self._lock:
            self._loading = True
            try:
                if not self._builtins_loaded:
                    for module in self._builtin_modules:
                        importlib.import_module(module).register(self.hook)
                    self._builtins_loaded = True
                if plugins and not self._plugins_loaded:
                    for entry in entry_points(group=self.group):
                        self._load_plugin(entry)
                    self._plugins_loaded = True
            finally:
                self._loading = False

    def _load_plugin(self, entry: EntryPoint) -> None:
        try:
            entry.load()(self.hook)
        except Exception as exc:  # anything a third party's import or register raises
            dist = entry.dist.name if entry.dist is not None else "an unknown package"
            lines = str(exc).strip().splitlines()
            detail = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
            raise ConfigError(
                f"{self.kind} plugin {entry.name!r} ({entry.value}, from {dist}, entry point "
                f"group {self.group}) failed to load: {detail}; fix or uninstall {dist}"
            ) from exc


#: Built-in registries whose names settings validate. Parsers, chosen by file
#: extension rather than by a setting, keep theirs in :mod:`mnemo.ingest.parsers`.
EMBEDDERS: Registry[Callable[..., Any]] = Registry(
    "embedding backend", "mnemo.embedders", ["mnemo.embeddings.builtin"]
)
LLM_PROVIDERS: Registry[Callable[..., Any]] = Registry(
    "LLM provider", "mnemo.llm_providers", ["mnemo.generation.builtin"]
)
STORES: Registry[Callable[..., Any]] = Registry(
    "index backend", "mnemo.stores", ["mnemo.index.builtin"]
)
RERANKERS: Registry[Callable[..., Any]] = Registry(
    "reranker", "mnemo.rerankers", ["mnemo.retrieval.builtin"]
)

__all__ = ["EMBEDDERS", "LLM_PROVIDERS", "RERANKERS", "STORES", "Registry"]

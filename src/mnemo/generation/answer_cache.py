"""Answer caches that are never stale: exact and semantic, tied to the index version.

An entry is found only under its *scope*: the collection, its index version
(the search index's table versions, the pending index writes, the catalog's
document count and latest change, the active embedder), the settings that
shape an answer, the model, the filters, the mode and the documents named.
Any add, change or delete moves the index version, so older entries are never
found again (and are deleted the next time an answer is stored).

Within a scope, a question hits when its normalised text is the same
(exact), or when its embedding is within ``cache.max_distance`` of a cached
question's *and* both carry the same key terms: numbers, names (capitalised
words), quoted phrases, negations and question words (who, when, where...), and they are not the same words but one ("who
won ..." / "who lost ..."). "Who won the World Cup in 2014?" never answers
"... in 2010?", however close the embeddings are.

Entries live in ``<home>/cache/answers.sqlite`` (a disposable cache: deleting
the file loses nothing), with counters for ``mnemo cache stats``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from mnemo.catalog import Catalog, Collection, Document
from mnemo.catalog.models import CollectionEmbedder, IndexPending
from mnemo.config import Settings
from mnemo.generation.answer_codec import from_json, to_json
from mnemo.generation.types import Answer

if TYPE_CHECKING:
    from mnemo.embeddings import Embedder
    from mnemo.retrieval.filters import Filters

_SCHEMA = """
create table if not exists answers (
    id integer primary key,
    collection text not null,
    version text not null,
    scope text not null,
    question text not null,
    terms text not null,
    vector blob,
    answer text not null,
    seconds real not null,
    created_at text not null,
    hits integer not null default 0,
    used_at text not null
);
create index if not exists answers_scope on answers (scope, question);
create table if not exists counters (name text primary key, value real not null);
"""
_WORD = re.compile(r"[\w'’.-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")
#: capitalised words that are not names: question words and the like
_NOT_NAMES = frozenset(
    "who whom whose what when where which why how is are was were do does did can could "
    "would should will shall may might tell please give list name show find explain "
    "describe the a an in on at of for to and or i my me you your it its this that these "
    "those there if i'd i'm i've i'll let's".split()
)
_NEGATIONS = frozenset("not no never without none nobody nothing neither nor n't except".split())
_CONTRASTS = frozenset(
    "first last next previous before after most least best worst largest smallest highest "
    "lowest men women men's women's male female".split()
)
_ASKING = {
    "who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where",
    "why": "why", "how": "how", "what": "what", "which": "what",
}  # fmt: skip
COUNTERS = ("exact", "semantic", "miss", "saved_seconds")


@dataclass(frozen=True)
class Lookup:
    answer: Answer | None  # the cached answer, None on a miss
    how: str | None  # exact or semantic
    vector: np.ndarray | None  # the question's embedding, when one was made


@dataclass(frozen=True)
class CacheStats:
    entries: int
    exact: int
    semantic: int
    misses: int
    saved_seconds: float

    @property
    def hit_rate(self) -> float:
        asked = self.exact + self.semantic + self.misses
        return (self.exact + self.semantic) / asked if asked else 0.0


def normalise(question: str) -> str:
    """The exact cache's key: case, spacing and end punctuation do not matter."""
    return " ".join(question.casefold().split()).rstrip(" ?!.")


def key_terms(question: str) -> list[str]:
    """What two questions must share to be the same question: numbers, names,
    quoted phrases, negations and words that turn the meaning ("first", "women's")."""
    found: set[str] = set(_NUMBER.findall(question))
    found |= {"“" + (a or b).casefold().strip() + "”" for a, b in _QUOTED.findall(question)}
    for word in _WORD.findall(question):
        bare = re.sub(r"['’]s$", "", word.strip(".'’-"))  # Falcon's: Falcon
        lower = bare.casefold().replace("’", "'")
        if not bare:
            continue
        if lower in _ASKING:  # what is asked for: a person, a time, a place, a reason
            found.add("?" + _ASKING[lower])
        elif lower in _NEGATIONS or lower.endswith("n't") or lower in _CONTRASTS:
            found.add(lower)
        elif bare[0].isupper() and lower not in _NOT_NAMES:
            found.add(lower)
        elif any(ch.isdigit() for ch in bare):
            found.add(lower)
    return sorted(found)


def one_word_apart(question: str, other: str) -> bool:
    """The same words in the same order but one: "who won ..." and "who lost ...". Such
    pairs embed very close, yet mostly ask something else, so they never share an answer."""
    mine = _WORD.findall(normalise(question))
    theirs = _WORD.findall(normalise(other))
    if len(mine) != len(theirs):
        return False
    return sum(a != b for a, b in zip(mine, theirs, strict=True)) == 1


def index_version(settings: Settings, catalog: Catalog, coll: Collection) -> str:
    """A value that changes whenever anything a search of ``coll`` reads changes."""
    from mnemo.errors import MnemoError
    from mnemo.index import reader

    with catalog.session(readonly=True) as session:
        docs = session.execute(
            select(Document.status, func.count(), func.max(Document.updated_at))
            .where(Document.collection_id == coll.id)
            .group_by(Document.status)
        ).all()
        pending = session.scalar(select(func.count()).where(IndexPending.collection_id == coll.id))
        embedders = session.execute(
            select(CollectionEmbedder.key, CollectionEmbedder.state).where(
                CollectionEmbedder.collection_id == coll.id
            )
        ).all()
    try:
        tables: Any = sorted(reader(settings, coll.name).versions().items())
    except MnemoError as exc:
        tables = f"unreadable: {exc}"
    found = {
        "collection": [coll.id, str(coll.created_at)],
        "documents": sorted([str(s), int(n), str(t)] for s, n, t in docs),
        "pending": int(pending or 0),
        "embedders": sorted([k, s] for k, s in embedders),
        "tables": tables,
    }
    return _digest(found)


def scope_of(
    settings: Settings,
    version: str,
    *,
    collection: str,
    model: str | None,
    filters: Filters | None,
    mode: str | None,
    documents: Sequence[str],
) -> str:
    """Everything besides the question that decides an answer, as one key."""
    shaping = {
        "search": settings.search.model_dump(mode="json"),
        "answer": settings.answer.model_dump(mode="json"),
        "llm": settings.llm.model_dump(mode="json", exclude={"api_key"}),
        "chunking": settings.chunking.model_dump(mode="json"),
    }
    found = {
        "collection": collection,
        "version": version,
        "settings": shaping,
        "model": model,
        "filters": repr(filters) if filters is not None else None,
        "mode": mode,
        "documents": sorted(documents),
    }
    return _digest(found)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class AnswerCache:
    """The cache file of one data directory; thread-safe, shared by processes."""

    def __init__(self, path: Path) -> None:
        from mnemo.config.private import private_dir

        private_dir(path.parent)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def lookup(
        self,
        scope: str,
        question: str,
        *,
        embed: Any = None,
        max_distance: float = 0.0,
    ) -> Lookup:
        """The cached answer to ``question`` in ``scope`` and how it was found (``exact``
        or ``semantic``). ``embed(text) -> vector`` enables the semantic cache; the
        vector it made comes back for :meth:`store`, so it is not computed twice."""
        text = normalise(question)
        with self._lock:
            row = self._db.execute(
                "select id, answer, created_at, seconds from answers "
                "where scope = ? and question = ? order by id desc limit 1",
                (scope, text),
            ).fetchone()
        if row is not None:
            return Lookup(self._hit(row, "exact"), "exact", None)
        if embed is None:
            self.count("miss")
            return Lookup(None, None, None)
        vector = np.asarray(embed(question), dtype=np.float32)
        terms = json.dumps(key_terms(question))
        with self._lock:
            rows = self._db.execute(
                "select id, answer, created_at, seconds, vector, question from answers "
                "where scope = ? and terms = ? and vector is not null",
                (scope, terms),
            ).fetchall()
        best, best_distance = None, max_distance
        for found in rows:
            other = np.frombuffer(found[4], dtype=np.float32)
            if other.shape != vector.shape or one_word_apart(question, found[5]):
                continue
            distance = 1.0 - float(np.dot(vector, other))
            if distance <= best_distance:
                best, best_distance = found, distance
        if best is None:
            self.count("miss")
            return Lookup(None, None, vector)
        return Lookup(self._hit(best[:4], "semantic"), "semantic", vector)

    def _hit(self, row: Sequence[Any], how: str) -> Answer:
        entry_id, data, created, seconds = row
        answer = from_json(json.loads(data))
        answer.cached_at = datetime.fromisoformat(created)
        with self._lock:
            self._db.execute(
                "update answers set hits = hits + 1, used_at = ? where id = ?",
                (_now(), entry_id),
            )
        self.count(how)
        self.count("saved_seconds", seconds)
        return answer

    def store(
        self,
        collection: str,
        version: str,
        scope: str,
        answer: Answer,
        *,
        vector: np.ndarray | None,
        max_entries: int,
    ) -> None:
        """Keep ``answer``; entries of older index versions of the collection go."""
        data = json.dumps(to_json(answer), ensure_ascii=False)
        blob = vector.astype(np.float32).tobytes() if vector is not None else None
        now = _now()
        with self._lock:
            self._db.execute("begin immediate")
            try:
                self._db.execute(
                    "delete from answers where collection = ? and version != ?",
                    (collection, version),
                )
                self._db.execute(
                    "insert into answers (collection, version, scope, question, terms, vector, "
                    "answer, seconds, created_at, used_at) values (?,?,?,?,?,?,?,?,?,?)",
                    (
                        collection,
                        version,
                        scope,
                        normalise(answer.question),
                        json.dumps(key_terms(answer.question)),
                        blob,
                        data,
                        float(answer.seconds.get("total", 0.0)),
                        now,
                        now,
                    ),
                )
                self._db.execute(
                    "delete from answers where collection = ? and id not in (select id from "
                    "answers where collection = ? order by hits desc, used_at desc limit ?)",
                    (collection, collection, max_entries),
                )
                self._db.execute("commit")
            except BaseException:
                self._db.execute("rollback")
                raise

    def count(self, name: str, amount: float = 1.0) -> None:
        with self._lock:
            self._db.execute(
                "insert into counters (name, value) values (?, ?) "
                "on conflict(name) do update set value = value + excluded.value",
                (name, amount),
            )

    def stats(self, collection: str | None = None) -> CacheStats:
        with self._lock:
            if collection is None:
                entries = self._db.execute("select count(*) from answers").fetchone()[0]
            else:
                entries = self._db.execute(
                    "select count(*) from answers where collection = ?", (collection,)
                ).fetchone()[0]
            found = dict(self._db.execute("select name, value from counters").fetchall())
        return CacheStats(
            entries=int(entries),
            exact=int(found.get("exact", 0)),
            semantic=int(found.get("semantic", 0)),
            misses=int(found.get("miss", 0)),
            saved_seconds=float(found.get("saved_seconds", 0.0)),
        )

    def clear(self, collection: str | None = None) -> int:
        """Forget cached answers (of one collection, or all, counters too); returns how many."""
        with self._lock:
            if collection is None:
                gone = self._db.execute("delete from answers").rowcount
                self._db.execute("delete from counters")
            else:
                gone = self._db.execute(
                    "delete from answers where collection = ?", (collection,)
                ).rowcount
        return int(gone)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def embedder_for(settings: Settings, catalog: Catalog, coll: Collection) -> Embedder | None:
    """The collection's embedder for the semantic cache; None when it has none."""
    from mnemo.embeddings.resolve import active_embedder
    from mnemo.errors import MnemoError

    try:
        return active_embedder(settings, catalog, coll.id)
    except MnemoError:
        return None

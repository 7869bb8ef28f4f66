"""An evaluation set: questions about a collection, each tied to what answers it.

Saved as JSON lines the user can edit (one case a line)::

    {"id": "g-3f2a…", "question": "When does Project Falcon go live?",
     "reference": "On 15 September 2024.", "chunk_ids": ["…"], "document": "notes/falcon.md",
     "origin": "generated"}

``origin`` says where a case came from: ``generated`` (a language model wrote the
question and reference answer from the passage), ``keyword`` (distinctive words
of the passage, for retrieval only), ``feedback`` (an answer a reader judged bad;
its correction, if any, is the reference) or ``manual``. ``chunk_ids`` are the
passages that answer it (empty: retrieval is not scored for that case).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mnemo.errors import MnemoError

ORIGINS = ("generated", "keyword", "feedback", "manual")


class EvalSetError(MnemoError):
    """An evaluation set file that cannot be read."""


@dataclass
class Case:
    id: str
    question: str
    reference: str | None = None  # the expected answer, when known
    chunk_ids: list[str] = field(default_factory=list)  # passages that answer it
    document: str | None = None  # the path of the passage's document
    origin: str = "manual"
    bad_answer: str | None = None  # feedback cases: the answer judged wrong


def save(cases: list[Case], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(asdict(case), ensure_ascii=False) + "\n")


def load(path: Path) -> list[Case]:
    """The cases of ``path``; EvalSetError naming the file, line and field when one is bad."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalSetError(f"{path}: no such file; build one with `mnemo eval build`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"{path}: cannot read it ({exc})") from exc
    cases, seen = [], set()
    known = set(Case.__dataclass_fields__)
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}, line {number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise EvalSetError(f"{where}: not JSON ({exc.args[0]}); fix or delete it") from None
        if not isinstance(data, dict):
            raise EvalSetError(f"{where}: each line must be a JSON object")
        unknown = sorted(set(data) - known)
        if unknown:
            raise EvalSetError(f"{where}: unknown field {unknown[0]!r} (fields: {sorted(known)})")
        question = data.get("question")
        if not isinstance(question, str) or not question.strip():
            raise EvalSetError(f"{where}: 'question' must be a non-empty string")
        ids = data.get("chunk_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise EvalSetError(f"{where}: 'chunk_ids' must be a list of chunk ids (strings)")
        if data.get("origin", "manual") not in ORIGINS:
            raise EvalSetError(f"{where}: 'origin' must be one of {', '.join(ORIGINS)}")
        for name in ("reference", "document", "bad_answer"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise EvalSetError(f"{where}: {name!r} must be a string or null")
        data.setdefault("id", f"line-{number}")
        if data["id"] in seen:
            raise EvalSetError(f"{where}: id {data['id']!r} is used twice")
        seen.add(data["id"])
        cases.append(Case(**data))
    if not cases:
        raise EvalSetError(f"{path}: no cases in it")
    return cases


def split(cases: list[Case]) -> tuple[list[Case], list[Case]]:
    """Two halves, the same for the same cases (by a hash of each id): tune on the
    first, report on the second."""
    import hashlib

    first, second = [], []
    for case in cases:
        digest = hashlib.sha256(case.id.encode()).digest()[0]
        (first if digest % 2 == 0 else second).append(case)
    return first, second

"""What a run did: counts, per-file outcomes and where the time went."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("indexed", "unchanged", "moved", "removed", "skipped", "failed")


@dataclass(frozen=True)
class Outcome:
    path: str
    outcome: str
    reason: str | None = None


@dataclass
class EmbeddingReport:
    """What the embedding step of a run did."""

    embedder: str | None = None
    embedded: int = 0  # chunks that got vectors in this run
    reused: int = 0  # chunks whose vectors were already stored (the same text elsewhere)
    pending: int = 0  # chunks still without one
    seconds: float = 0.0
    error: str | None = None  # why embedding stopped; keyword search still works
    notes: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    run_id: int
    collection: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    excluded: int = 0
    chunks_written: int = 0
    bytes_read: int = 0
    worker_peak_mb: float = 0.0  # highest peak resident memory of any parser process
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    status: str = "running"
    embedding: EmbeddingReport = field(default_factory=EmbeddingReport)
    index_repairs: list[str] = field(default_factory=list)

    def record(self, path: str, outcome: str, reason: str | None = None) -> Outcome:
        self.counts[outcome] += 1
        item = Outcome(path, outcome, reason)
        if outcome != "unchanged":
            self.outcomes.append(item)
        return item

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == "failed"]

    @property
    def exit_code(self) -> int:
        """Non-zero only when the user should act: a file failed or embedding stopped."""
        return 1 if self.counts["failed"] or self.embedding.error else 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        return data

"""Drift: does the best passage's relevance, or the rate of abstentions, move over time?

Every ask's root span records the best passage's relevance (``mnemo.relevance``, on
the scale of ``mnemo.relevance_scale``: the reranker's score or dense similarity),
the answer's kind and the embedder. :func:`drift` compares the latest
``traces.drift_window`` answers with the window before them, per scale: a mean
relevance that moved by more than three standard errors (and at least 0.05), or an
abstention rate that moved by 15 points or more, is a warning; so is a change of
embedder between the windows, the usual cause.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mnemo.tracing import read_spans

if TYPE_CHECKING:
    from mnemo.config import Settings

_MIN_SHIFT = 0.05
_SE_FACTOR = 3.0
_ABSTAIN_SHIFT = 0.15


@dataclass(frozen=True)
class Window:
    answers: int
    mean_relevance: float | None
    abstention_rate: float
    embedders: tuple[str, ...]


@dataclass
class DriftReport:
    scale: str  # rerank or dense
    window: int
    recent: Window | None
    earlier: Window | None
    warnings: list[str] = field(default_factory=list)


def drift(settings: Settings) -> list[DriftReport]:
    """One report per relevance scale seen in the traces; empty with no asks on file."""
    size = settings.traces.drift_window
    asks = [
        s["attributes"]
        for s in read_spans(settings, name="ask")
        if s["name"] == "ask"
        and not s.get("parent_id")
        and "mnemo.kind" in (s.get("attributes") or {})
    ]
    by_scale: dict[str, list[dict[str, Any]]] = {}
    for attrs in asks:
        by_scale.setdefault(str(attrs.get("mnemo.relevance_scale", "none")), []).append(attrs)
    reports = []
    for scale, items in sorted(by_scale.items()):
        recent = _window(items[-size:])
        earlier = _window(items[-2 * size : -size]) if len(items) > size else None
        report = DriftReport(scale, size, recent, earlier)
        if earlier is not None and recent is not None:
            report.warnings = _compare(items[-size:], items[-2 * size : -size], recent, earlier)
        reports.append(report)
    return reports


def _window(items: list[dict[str, Any]]) -> Window | None:
    if not items:
        return None
    scores = [float(a["mnemo.relevance"]) for a in items if "mnemo.relevance" in a]
    abstained = sum(1 for a in items if a.get("mnemo.kind") == "abstained")
    embedders = tuple(sorted({str(a.get("mnemo.embedder", "?")) for a in items}))
    return Window(
        answers=len(items),
        mean_relevance=statistics.fmean(scores) if scores else None,
        abstention_rate=abstained / len(items),
        embedders=embedders,
    )


def _compare(
    recent_items: list[dict[str, Any]],
    earlier_items: list[dict[str, Any]],
    recent: Window,
    earlier: Window,
) -> list[str]:
    warnings = []
    if recent.mean_relevance is not None and earlier.mean_relevance is not None:
        a = [float(x["mnemo.relevance"]) for x in recent_items if "mnemo.relevance" in x]
        b = [float(x["mnemo.relevance"]) for x in earlier_items if "mnemo.relevance" in x]
        se = math.sqrt(_var(a) / len(a) + _var(b) / len(b)) if len(a) > 1 and len(b) > 1 else 0.0
        shift = recent.mean_relevance - earlier.mean_relevance
        if abs(shift) >= max(_MIN_SHIFT, _SE_FACTOR * se):
            warnings.append(
                f"best-passage relevance moved {shift:+.3f} (from {earlier.mean_relevance:.3f} "
                f"to {recent.mean_relevance:.3f} over the last {recent.answers} answers)"
            )
    moved = recent.abstention_rate - earlier.abstention_rate
    if abs(moved) >= _ABSTAIN_SHIFT:
        warnings.append(
            f"abstentions moved from {earlier.abstention_rate:.0%} to {recent.abstention_rate:.0%}"
        )
    if recent.embedders != earlier.embedders:
        warnings.append(
            f"the embedder changed ({', '.join(earlier.embedders)} -> {', '.join(recent.embedders)})"
            ": compare answers before and after, or re-tune answer.min_relevance"
        )
    return warnings


def _var(values: list[float]) -> float:
    return statistics.variance(values) if len(values) > 1 else 0.0

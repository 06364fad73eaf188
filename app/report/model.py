"""What a report says, gathered from a session into plain data (Qt-free, numpy only).

Every output format (HTML, PDF, JSON, CSV) renders this one ReportData, so they cannot disagree.
Whatever a session lacks (no metrics yet, no reference set, no flags, no images) is simply absent
here, and the renderers say so instead of failing.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from genloupe.app.metric_rows import DISPLAY
from genloupe.app.report.provenance import WRITERS
from genloupe.engine.session import Session, labels_by_sample
from genloupe.engine.session.store import FlagRow

SOURCES = ("sample", "reference")
# Known per-sample columns in display order; any other column follows, sorted by name.
COLUMN_ORDER = ("log_px", "bpd", "realism", "in_manifold", "nn_id", "nn_distance", "proj_x", "proj_y")
# Confirmed labels that do not mark a problem; every other confirmed label is drawn as 'flagged' in the plots.
NOT_A_PROBLEM = ("good",)

METRIC_NAMES = DISPLAY  # one naming for the window and the report
# Keys of a metric entry that the metrics table shows in its own columns.
_METRIC_FIELDS = {"value", "mean", "std", "ci", "interval", "n", "n_real", "n_fake", "method", "convention"}

RUN_LABELS = {
    "checkpoint": "checkpoint",
    "checkpoint_hash": "checkpoint hash",
    "model": "model",
    "scoring_model": "likelihood scored with",
    "training_split": "training images",
    "reference": "reference data",
    "features": "features",
    "seed": "seed",
    "n_samples": "samples drawn",
    "device": "device",
    "likelihood_convention": "likelihood convention",
    "scored_with": "likelihood scored under",
    "settings": "settings",
    "timings": "time taken",
    "suggestions": "suggestions",
    "versions": "versions",
}


@dataclass(frozen=True)
class MetricRow:
    """One metric as the report shows it: value, spread, interval, sample sizes, method, convention."""

    key: str
    name: str
    value: float | None
    std: float | None
    interval: tuple[float, float] | None
    n: str
    better: str | None  # 'lower', 'higher' or None
    method: str
    convention: str
    details: dict[str, Any]  # every other field of the stored entry


@dataclass(frozen=True)
class SampleCard:
    """One sample shown with its image, its numbers, its flags and its note."""

    source: str
    idx: int
    numbers: dict[str, Any]  # column name -> value (Python scalars)
    labels: dict[str, str]  # label -> 'confirmed' | 'suggested'
    reasons: tuple[str, ...]
    note: str
    likelihood_rank: tuple[int, int] | None  # (place by log-likelihood, 1 = most likely; out of how many)

    @property
    def key(self) -> str:
        """Name of the sample's thumbnail image."""
        return f"{self.source}-{self.idx}"


@dataclass
class SourceData:
    """Everything the session holds about one source ('sample' or 'reference')."""

    name: str
    columns: dict[str, np.ndarray]
    images: np.ndarray | None  # (N, C, H, W) integer levels
    levels: int | None
    flags: list[FlagRow]
    notes: dict[int, tuple[str, float]]

    @property
    def n(self) -> int:
        if self.images is not None:
            return len(self.images)
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def column_names(self) -> list[str]:
        known = [name for name in COLUMN_ORDER if name in self.columns]
        return known + sorted(set(self.columns) - set(known))

    def flag_counts(self) -> dict[str, dict[str, int]]:
        """{label: {state: count}}."""
        counts: dict[str, dict[str, int]] = {}
        for _, label, state, *_ in self.flags:
            counts.setdefault(label, {}).setdefault(state, 0)
            counts[label][state] += 1
        return counts

    @functools.cached_property
    def rows_by_sample(self) -> dict[int, list[FlagRow]]:
        """Flag rows grouped by sample, built once: a card looks its rows up instead of scanning every flag."""
        grouped: dict[int, list[FlagRow]] = {}
        for row in self.flags:
            grouped.setdefault(row[0], []).append(row)
        return grouped

    def problem_mask(self) -> np.ndarray:
        """Samples with a confirmed flag other than 'good' (drawn as flagged in the plots)."""
        mask = np.zeros(self.n, dtype=bool)
        for idx, label, state, *_ in self.flags:
            if state == "confirmed" and label not in NOT_A_PROBLEM and 0 <= idx < self.n:
                mask[idx] = True
        return mask


@dataclass
class ReportData:
    """Everything one report shows; the renderers only format it."""

    title: str
    created: str  # ISO 8601, UTC
    session_path: str
    run: dict[str, Any]
    metrics_raw: dict[str, Any]
    metrics: list[MetricRow]
    provenance: list[tuple[str, str]]
    convention: str  # the likelihood convention in one line ('' when the run does not say)
    sources: dict[str, SourceData]
    flagged: list[SampleCard]  # confirmed flags or notes, most likely first
    flagged_total: int  # how many there are (the list may be capped)
    top: list[SampleCard]  # highest log-likelihood samples, highest first
    bottom: list[SampleCard]  # lowest log-likelihood samples, lowest first

    def table_sources(self) -> list[SourceData]:
        """Sources whose rows are images (samples, reference images), not auxiliary per-source columns."""
        return [source for source in self.sources.values() if source.images is not None or source.name in SOURCES]

    def flag_summary(self) -> list[tuple[str, str, int, int]]:
        """(source, label, confirmed, suggested) rows for every label in use."""
        rows = []
        for source in self.sources.values():
            for label, states in sorted(source.flag_counts().items()):
                rows.append((source.name, label, states.get("confirmed", 0), states.get("suggested", 0)))
        return rows


def gather_report(session: Session, *, highlights: int = 12, max_flagged: int = 500) -> ReportData:
    """Read everything a report shows from ``session``.

    ``highlights`` is how many top- and bottom-likelihood samples to show; ``max_flagged`` caps
    the flagged grid (the JSON and CSV always hold every flag and note).
    """
    run = session.run
    metrics_raw = session.read_metrics()
    sources = {name: _read_source(session, name) for name in _source_names(session)}
    flagged = [card for source in sources.values() for card in _flagged_cards(source)]
    flagged.sort(key=lambda card: (card.source != "sample", card.likelihood_rank or (math.inf, 0), card.idx))
    top, bottom = _extremes(sources.get("sample"), highlights)
    convention = run.get("likelihood_convention") or {}
    return ReportData(
        title=_title(run),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        session_path=str(session.path),
        run=run,
        metrics_raw=metrics_raw,
        metrics=[metric_row(key, entry) for key, entry in metrics_raw.items()],
        provenance=provenance_rows(run),
        convention=str(convention.get("description", "")) if isinstance(convention, dict) else str(convention),
        sources=sources,
        flagged=flagged[:max_flagged],
        flagged_total=len(flagged),
        top=top,
        bottom=bottom,
    )


def metric_row(key: str, entry: Any) -> MetricRow:
    """Normalize one stored metric: a plain number, or a dict with value (or mean/std), ci, n, method, convention."""
    name, better = METRIC_NAMES.get(key, (key.replace("_", " "), None))
    if not isinstance(entry, dict):
        return MetricRow(key, name, _number(entry), None, None, "", better, "", "", {})
    interval = entry.get("ci", entry.get("interval"))
    if interval is not None:
        interval = (float(interval[0]), float(interval[1]))
    return MetricRow(
        key=key,
        name=name,
        value=_number(entry.get("value", entry.get("mean"))),
        std=_number(entry.get("std")),
        interval=interval,
        n=_sizes(entry),
        better=better,
        method=str(entry.get("method", "")),
        convention=str(entry.get("convention", "")),
        details={k: v for k, v in entry.items() if k not in _METRIC_FIELDS},
    )


def provenance_rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows of the run's provenance: known fields first, then any others."""
    keys = [key for key in RUN_LABELS if key in run] + [key for key in run if key not in RUN_LABELS]
    rows = []
    for key in keys:
        value = run[key]
        if key == "likelihood_convention" and isinstance(value, dict) and "description" in value:
            value = value["description"]
        elif key in WRITERS and isinstance(value, dict):  # written for people: no raw dictionaries or keys
            value = WRITERS[key](value)
        rows.append((RUN_LABELS.get(key, key.replace("_", " ")), _text(value)))
    return rows


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _sizes(entry: dict[str, Any]) -> str:
    if "n_real" in entry or "n_fake" in entry:  # a metric of the samples alone (IS) names no real set
        sides = [f"{entry[key]} {name}" for key, name in (("n_fake", "samples"), ("n_real", "real")) if key in entry]
        return ", ".join(sides)
    return str(entry["n"]) if "n" in entry else ""


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _title(run: dict[str, Any]) -> str:
    model = run.get("model")
    if isinstance(model, dict) and model.get("name"):
        return str(model["name"])
    return str(run.get("checkpoint") or "GenLoupe session")


def _source_names(session: Session) -> list[str]:
    present = session.sources()
    return [name for name in SOURCES if name in present] + [name for name in present if name not in SOURCES]


def _read_source(session: Session, name: str) -> SourceData:
    images, levels = session.read_images(name) if session.has_images(name) else (None, None)  # damage is an error
    return SourceData(name, session.read_columns(name), images, levels, session.flag_rows(name), session.notes(name))


Ranks = tuple[np.ndarray, int] | None  # each sample's place by log-likelihood (0: not finite), and how many are finite


def _likelihood_ranks(source: SourceData) -> Ranks:
    """Each sample's place by log-likelihood: how many finite values are at least its own."""
    log_px = source.columns.get("log_px")
    if log_px is None:
        return None
    finite = np.sort(log_px[np.isfinite(log_px)])
    places = len(finite) - np.searchsorted(finite, log_px, side="left")
    return np.where(np.isfinite(log_px), places, 0), len(finite)


def _card(source: SourceData, idx: int, ranks: Ranks) -> SampleCard:
    """The card of sample ``idx`` of ``source``."""
    rows = source.rows_by_sample.get(idx, [])
    rank = None if ranks is None or ranks[0][idx] == 0 else (int(ranks[0][idx]), ranks[1])
    return SampleCard(
        source=source.name,
        idx=int(idx),
        numbers={name: source.columns[name][idx].item() for name in source.column_names()},
        labels=labels_by_sample(rows).get(idx, {}),
        reasons=tuple(row[3] for row in rows if row[3]),
        note=source.notes.get(idx, ("", 0.0))[0],
        likelihood_rank=rank,
    )


def _flagged_cards(source: SourceData) -> list[SampleCard]:
    """Cards of samples with a confirmed flag or a note (suggestions alone are not the person's verdict)."""
    ids = {row[0] for row in source.flags if row[2] == "confirmed"} | set(source.notes)
    ids = {idx for idx in ids if 0 <= idx < source.n}
    ranks = _likelihood_ranks(source)
    return [_card(source, idx, ranks) for idx in sorted(ids)]


def _extremes(source: SourceData | None, k: int) -> tuple[list[SampleCard], list[SampleCard]]:
    """The ``k`` highest- and lowest-likelihood samples (finite values only), most extreme first."""
    if source is None or "log_px" not in source.columns or k <= 0:
        return [], []
    log_px = source.columns["log_px"]
    finite = np.flatnonzero(np.isfinite(log_px))
    order = finite[np.argsort(log_px[finite], kind="stable")]
    ranks = _likelihood_ranks(source)
    top = [_card(source, int(i), ranks) for i in order[::-1][:k]]
    bottom = [_card(source, int(i), ranks) for i in order[:k]]
    return top, bottom

"""What the views draw, prepared off the GUI thread: frozen requests whose call returns arrays ready to draw.

numpy only (through widgets/prepared.py): a request is built from a session's columns, called in a worker
(the job that read the session) and its result handed to a view's ``set_prepared``, which only passes
arrays to pyqtgraph. The GUI thread thus never bins, ranks or splits tens of thousands of points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genloupe.widgets.prepared import HistogramData, ManifoldData, ScatterData, histogram_data, manifold_data, scatter_data

if TYPE_CHECKING:
    from genloupe.app.controller import SessionView

QUALITY_AXES = {"realism": "realism", "nearest-real distance": "nn_distance"}  # axis label -> sample column


@dataclass(frozen=True)
class PreparedHistogram:
    data: HistogramData | None  # None: the model has no likelihood
    convention: str
    context: tuple[str, ...]  # sets drawn grey: scored for context (the training split), not compared


@dataclass(frozen=True)
class HistogramRequest:
    """Bits/dim of the samples, the held-out real images and further scored splits, on shared bins."""

    sample_bpd: np.ndarray | None
    reference_bpd: np.ndarray
    further_bpd: dict[str, np.ndarray]
    convention: str

    def __call__(self) -> PreparedHistogram:
        if self.sample_bpd is None:
            return PreparedHistogram(None, "the model has no likelihood", ())
        sets = {"held-out real": self.reference_bpd, "samples": self.sample_bpd,
                **{f"{name} split": bpd for name, bpd in self.further_bpd.items()}}
        ids, start = {"samples": np.arange(len(self.sample_bpd))}, len(self.sample_bpd)  # unique across the sets
        for name, values in sets.items():
            if name != "samples":
                ids[name] = start + np.arange(len(values))
                start += len(values)
        context = tuple(name for name in sets if name.endswith(" split"))
        return PreparedHistogram(histogram_data(sets, ids), self.convention, context)


@dataclass(frozen=True)
class ManifoldRequest:
    """The 2-D projection of real and generated features, coloured by manifold membership."""

    real_xy: np.ndarray
    generated_xy: np.ndarray
    real_in: np.ndarray | None
    generated_in: np.ndarray | None
    realism: np.ndarray | None
    k: int

    def __call__(self) -> ManifoldData:
        return manifold_data(self.real_xy, self.generated_xy, real_in=self.real_in, generated_in=self.generated_in,
                             realism=self.realism, k=self.k, names=("real", "samples"),
                             axis_labels=("PC 1 of real features", "PC 2 of real features"))


@dataclass(frozen=True)
class ScatterRequest:
    """Bits/dim against a quality column, flagged samples apart; ``rank`` reuses a known (rho, n)."""

    bpd: np.ndarray
    quality: np.ndarray
    flagged: np.ndarray
    rank: tuple[float, int] | None = None

    def __call__(self) -> ScatterData:
        return scatter_data(self.bpd, self.quality, flagged=self.flagged, rank=self.rank)


@dataclass(frozen=True)
class PreparedViews:
    histogram: PreparedHistogram
    manifold: ManifoldData | None  # None: no projection (no features)
    scatter: dict[str, ScatterData]  # by quality axis label, for the axes the session has


def histogram_request(view: SessionView) -> HistogramRequest:
    convention = (view.run.get("likelihood_convention") or {}).get("short", "")
    if view.run.get("scored_with"):
        convention = f"scored under {Path(view.run['scored_with']).name} · {convention}"
    further = {name: columns["bpd"] for name, columns in view.further_columns.items() if "bpd" in columns}
    return HistogramRequest(view.sample_columns.get("bpd"), view.reference_columns.get("bpd", np.zeros(0)), further,
                            convention)


def manifold_request(view: SessionView) -> ManifoldRequest | None:
    s, r = view.sample_columns, view.reference_columns
    if "proj_x" not in s:
        return None
    return ManifoldRequest(np.column_stack([r["proj_x"], r["proj_y"]]), np.column_stack([s["proj_x"], s["proj_y"]]),
                           r.get("in_manifold"), s.get("in_manifold"), s.get("realism"),
                           int(view.run.get("settings", {}).get("k_pr", 3)))


def scatter_request(view: SessionView, axis: str, flagged: np.ndarray,
                    rank: tuple[float, int] | None = None) -> ScatterRequest | None:
    s = view.sample_columns
    column = QUALITY_AXES[axis]
    if "bpd" not in s or column not in s:
        return None
    return ScatterRequest(s["bpd"], s[column], flagged, rank)


def prepare_views(view: SessionView) -> PreparedViews:
    """Every plot's arrays for a session just read (call in a worker)."""
    manifold = manifold_request(view)
    flagged = view.flags.flagged()
    scatter = {axis: request() for axis in QUALITY_AXES
               if (request := scatter_request(view, axis, flagged)) is not None}
    return PreparedViews(histogram_request(view)(), manifold() if manifold else None, scatter)

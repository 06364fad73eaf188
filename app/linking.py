"""Linked views: one engine-side Selection, pushed into every view; views report user gestures back.

Views' ``set_selection`` never re-emits, so pushing the shared selection into all of them, the
view that made it included, cannot loop.
"""

from __future__ import annotations

import numpy as np

from genloupe.engine.session import Selection
from genloupe.widgets.histogram import HistogramView
from genloupe.widgets.manifold_view import ManifoldView
from genloupe.widgets.quality_scatter import QualityScatter
from genloupe.widgets.sample_grid import SampleGrid


class ViewLinker:
    def __init__(self, selection: Selection, grid: SampleGrid, histogram: HistogramView,
                 manifold: ManifoldView, scatter: QualityScatter) -> None:
        self.selection = selection
        self.grid, self.histogram, self.manifold, self.scatter = grid, histogram, manifold, scatter
        self.sample_bpd: np.ndarray | None = None
        self.brushed: np.ndarray | None = None  # ids inside the histogram brush, None when no brush
        self.flag_filter: np.ndarray | None = None  # ids passing the flag filter, None when off
        selection.observers.append(self._push)
        grid.selectionChanged.connect(lambda ids: selection.set(ids, f"{len(ids)} picked in the grid"))
        manifold.selectionChanged.connect(lambda ids: selection.set(ids, f"{len(ids)} picked in the manifold view"))
        scatter.selectionChanged.connect(lambda ids: selection.set(ids, f"{len(ids)} picked in the likelihood-quality view"))
        histogram.rangeSelected.connect(self.brush)
        histogram.rangeCleared.connect(self.clear_brush)

    def brush(self, lo: float, hi: float) -> None:
        """A likelihood range: the grid shows only samples inside it, and they become the selection."""
        if self.sample_bpd is None:
            return
        self.brushed = np.flatnonzero((self.sample_bpd >= lo) & (self.sample_bpd <= hi))
        self._refilter()
        self.selection.set(self.brushed, f"bits/dim {lo:.3f} … {hi:.3f}")

    def clear_brush(self) -> None:
        self.brushed = None
        self._refilter()
        self.selection.clear()

    def set_flag_filter(self, ids: np.ndarray | None) -> None:
        self.flag_filter = ids
        self._refilter()

    def reset(self, sample_bpd: np.ndarray | None = None) -> None:
        """New samples on screen: forget the old brush, filters and selection; brush on ``sample_bpd``."""
        self.clear()
        self.sample_bpd = sample_bpd

    def clear(self) -> None:
        """Clear clears them all: selection, brush and filters."""
        self.histogram.clear_range()
        self.brushed = None
        self.flag_filter = None
        self._refilter()
        self.selection.clear()

    def _refilter(self) -> None:
        visible = np.arange(self.grid.model.n)
        for subset in (self.brushed, self.flag_filter):
            if subset is not None:
                visible = np.intersect1d(visible, subset)
        self.grid.set_visible(visible)

    def _push(self, selection: Selection) -> None:
        ids = selection.ids
        self.grid.select_ids(ids)
        self.manifold.set_selection(ids)
        self.scatter.set_selection(ids)
        if len(ids):
            self.histogram.set_selection(ids)
        else:
            self.histogram.clear_selection()

"""Likelihood histograms: several named sets in bits/dim, overlaid on shared bins, with a brush.

Each set (say 'held-out real' and 'samples') is drawn as a filled step curve over the same bin
edges, as a share of its own size so that sets of different sizes compare. Left-drag brushes a
range of bits/dim (the region's edges and body can then be dragged); double-click or Escape
clears it. The view emits the range; the app turns it into a selection and pushes that back with
`set_selection`, which draws the selected subset as a second step curve. Nothing pushed in from
outside (`set_selection`, `set_range`, `clear_*`) is emitted again.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6 import QtCore, QtGui, QtWidgets

from . import theme
from .prepared import HistogramData, histogram_data, shares

_FILL_ALPHA = 50


class HistogramView(QtWidgets.QWidget):
    """Overlaid bits/dim histograms of named sets, with a range brush and a selection curve."""

    rangeSelected = QtCore.Signal(float, float)
    rangeCleared = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, units: str = "bits/dim"):
        super().__init__(parent)
        self._units = units
        self._view_box = theme.DragSelectViewBox()
        self.plot = theme.make_plot(theme.NLL_LABEL, "share of set", x_units=units, y_units="%",
                                    view_box=self._view_box)
        self.plot.setMouseEnabled(y=False)
        self._legend = theme.add_legend(self.plot)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(theme.with_alpha(theme.SELECTED, 35)),
                                          pen=pg.mkPen(theme.SELECTED, width=2))
        self.region.setZValue(-5)
        self.region.hide()
        self.plot.addItem(self.region, ignoreBounds=True)
        self.selected_curve = self.plot.plot(pen=pg.mkPen(theme.SELECTED, width=2.5), stepMode="center",
                                              fillLevel=0, brush=pg.mkBrush(theme.with_alpha(theme.SELECTED, 90)))
        self.selected_curve.setZValue(10)
        self.curves: dict[str, pg.PlotDataItem] = {}  # one step curve per set with finite values
        self._values: dict[str, np.ndarray] = {}
        self._ids: dict[str, np.ndarray] = {}
        self._edges = np.empty(0)
        self._selection = np.empty(0, dtype=np.int64)
        self._quiet = False
        self._flag_summary = ""
        self.count_label = theme.status_label()

        theme.stack_plot_and_status(self, self.plot, self.count_label)

        self.region.sigRegionChangeFinished.connect(self._on_region_finished)
        self._view_box.sigSelectDrag.connect(self._on_drag)
        self._view_box.sigSelectClick.connect(self._on_click)
        self._update_label()

    # data -------------------------------------------------------------------------------
    def set_sets(self, sets: Mapping[str, ArrayLike], *, ids: Mapping[str, ArrayLike] | None = None,
                 convention: str = "", bins: int | str = 30,
                 colours: Mapping[str, QtGui.QColor | str] | None = None) -> None:
        """Show the named sets of bits/dim on shared bin edges.

        ids gives each set's sample ids (default 0..n-1); make them unique across sets when a
        selection should name samples of one set only. Non-finite values (models without a
        likelihood) are left out of the bins and of the counts. convention is shown as the
        plot's title (e.g. 'bits/dim, 17 levels, exact'). colours default to theme order:
        first set real, second generated.
        """
        self.set_prepared(histogram_data(sets, ids, bins), convention=convention, colours=colours)

    def set_prepared(self, data: HistogramData, *, convention: str = "",
                     colours: Mapping[str, QtGui.QColor | str] | None = None) -> None:
        """Draw what :func:`histogram_data` prepared (on any thread): only hands arrays to pyqtgraph."""
        self._values, self._ids, self._edges = data.values, data.ids, data.edges
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self._legend.clear()
        palette = theme.series_colours(list(self._values))
        palette.update({k: QtGui.QColor(c) for k, c in (colours or {}).items()})
        self.curves = {}
        for name, heights in data.heights.items():
            colour = palette[name]
            curve = self.plot.plot(self._edges, heights, stepMode="center", fillLevel=0,
                                   pen=pg.mkPen(colour, width=2),
                                   brush=pg.mkBrush(theme.with_alpha(colour, _FILL_ALPHA)), name=name)
            self.curves[name] = curve
        theme.set_title(self.plot, convention)
        self._draw_selection()
        self.plot.autoRange()

    def edges(self) -> np.ndarray:
        """The bin edges shared by every set."""
        return self._edges.copy()

    # brushing --------------------------------------------------------------------------
    def brushed_range(self) -> tuple[float, float] | None:
        """The brushed (lo, hi) in bits/dim, or None when nothing is brushed."""
        if not self.region.isVisible():
            return None
        lo, hi = self.region.getRegion()
        return float(lo), float(hi)

    def set_range(self, lo: float, hi: float) -> None:
        """Show a brushed range pushed in from outside (not emitted)."""
        self._quiet = True
        try:
            self.region.setRegion((lo, hi))
            self.region.show()
        finally:
            self._quiet = False
        self._update_label()

    def clear_range(self) -> None:
        """Remove the brush (not emitted)."""
        self.region.hide()
        self._update_label()

    def _on_drag(self, start: QtCore.QPointF, end: QtCore.QPointF, finished: bool, _modifiers) -> None:
        """Left-drag on the plot: the region follows live and is emitted once, on release."""
        lo, hi = sorted((start.x(), end.x()))
        self._quiet = True
        try:
            self.region.setRegion((lo, hi))
        finally:
            self._quiet = False
        self.region.show()
        if finished:
            self._on_region_finished()
        else:
            self._update_label()

    def _on_click(self, _pos, _modifiers, double: bool) -> None:
        if double and self.region.isVisible():
            self.clear_range()
            self.rangeCleared.emit()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt naming)
        if event.key() == QtCore.Qt.Key.Key_Escape and self.region.isVisible():
            self.clear_range()
            self.rangeCleared.emit()
            return
        super().keyPressEvent(event)

    def _on_region_finished(self, *_args) -> None:
        if self._quiet:
            return
        self.region.show()
        self._update_label()
        lo, hi = self.region.getRegion()
        self.rangeSelected.emit(float(lo), float(hi))

    # linked selection ------------------------------------------------------------------
    def set_selection(self, ids: ArrayLike) -> None:
        """Draw the samples with these ids as the 'selected' curve (not emitted)."""
        self._selection = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        self._draw_selection()

    def clear_selection(self) -> None:
        """Clear the selection curve and the brush (not emitted)."""
        self._selection = np.empty(0, dtype=np.int64)
        self.region.hide()
        self._draw_selection()

    def _draw_selection(self) -> None:
        """The selected samples of every set, each weighing as in its own set's curve."""
        heights = np.zeros(max(self._edges.size - 1, 0))
        for name, v in self._values.items():
            n = int(np.isfinite(v).sum())
            if n and heights.size:
                heights += shares(v[np.isin(self._ids[name], self._selection)], self._edges, n)
        self._legend.removeItem(self.selected_curve)
        nonzero = np.flatnonzero(heights)
        if self._selection.size and nonzero.size:  # drawn over the bins it occupies, not along the axis
            lo, hi = nonzero[0], nonzero[-1] + 1
            self.selected_curve.setData(self._edges[lo:hi + 1], heights[lo:hi])
            self._legend.addItem(self.selected_curve, "selected")
        else:
            self.selected_curve.setData([], [])
        self._update_label()

    # text ------------------------------------------------------------------------------
    def count_text(self) -> str:
        """What the count label shows: 'k / n' of each set in the brushed range, and of the selection."""
        parts = []
        brushed = self.brushed_range()
        if brushed is not None:
            lo, hi = brushed
            counts = []
            for name, v in self._values.items():
                finite = v[np.isfinite(v)]
                k = int(np.count_nonzero((finite >= lo) & (finite <= hi)))
                counts.append(f"{name} {k:,} / {finite.size:,}")
            parts.append(f"{lo:.3f}–{hi:.3f} {self._units}: " + " · ".join(counts))
        if self._selection.size:
            total = sum(len(i) for i in self._ids.values())
            k = sum(int(np.isin(i, self._selection).sum()) for i in self._ids.values())
            parts.append(f"selected {k:,} / {total:,}")
        if not parts:
            return "drag to brush a range · double-click to clear"
        return "   |   ".join(parts)

    def set_flag_summary(self, text: str) -> None:
        """A line on the flags (e.g. '12 bad · 3 memorized'), shown after the counts."""
        self._flag_summary = text
        self._update_label()

    def _update_label(self) -> None:
        self.count_label.setText("   |   ".join(t for t in (self.count_text(), self._flag_summary) if t))

"""Checkpoints over training: held-out and train bits/dim, and quality metrics, against the epoch.

Stacked plots on one linked x axis (zooming one zooms all): likelihood on top (held-out and train,
so the gap that opens with overfitting is visible), one plot per chosen quality metric below, each
point with its interval. Epochs where held-out bits/dim improved while a quality metric got worse
are shaded in every plot. Clicking a point emits ``checkpointActivated(member)`` with the member
index the caller gave for that epoch. Plain numpy input only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from . import theme

PARTING = theme.with_alpha(theme.FLAGGED, 30)
_ARROWS = {"lower": "↓", "higher": "↑"}


@dataclass(frozen=True)
class Series:
    """One metric over the checkpoints: values and (m, 2) intervals (nan where none)."""

    label: str
    values: np.ndarray
    intervals: np.ndarray | None = None
    better: str | None = None


class TrajectoryView(QtWidgets.QWidget):
    checkpointActivated = QtCore.Signal(int)  # member index

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.plots: list[pg.PlotWidget] = []
        self.epochs = np.zeros(0, np.int64)
        self.members: list[int] = []
        self.parting: list[int] = []
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(2)
        self.status = theme.status_label()
        self.status.setWordWrap(True)
        self._layout.addWidget(self.status)

    def set_data(self, epochs: np.ndarray, members: list[int], likelihood: list[Series], quality: list[Series],
                 unit: str = "epoch", parting: list[int] | None = None, note: str = "", gap_opens: int | None = None) -> None:
        """``likelihood`` share the top plot; each ``quality`` series gets a plot of its own below.

        ``parting``: epochs to shade (likelihood and quality moved apart); ``gap_opens``: the epoch after which
        the train/held-out gap widens, drawn as a dashed line through every plot.
        """
        for plot in self.plots:
            self._layout.removeWidget(plot)
            plot.deleteLater()
        self.plots = []
        self.epochs, self.members, self.parting = np.asarray(epochs), list(members), list(parting or [])
        groups = ([likelihood] if likelihood else []) + [[series] for series in quality]
        for g, group in enumerate(groups):
            title = "bits/dim" if group is likelihood else self._label(group[0])
            plot = theme.make_plot(unit if g == len(groups) - 1 else "", title)
            if g < len(groups) - 1:
                plot.getAxis("bottom").setStyle(showValues=False)
                plot.getAxis("bottom").setLabel("")
            legend = theme.add_legend_below(plot) if len(group) > 1 else None
            colours = theme.series_colours([series.label for series in group])
            for series in group:
                curve = self._draw(plot, series, colours[series.label])
                if legend is not None:
                    legend.addItem(curve, series.label)
            for epoch in self.parting:
                band = pg.LinearRegionItem(self._band(epoch), movable=False, brush=PARTING, pen=pg.mkPen(None))
                band.setZValue(-10)
                plot.addItem(band)
            if gap_opens is not None:
                plot.addItem(pg.InfiniteLine(gap_opens, angle=90, pen=pg.mkPen(theme.plot_colours()[1], width=1,
                                                                            style=QtCore.Qt.PenStyle.DashLine)))
            if self.plots:
                plot.setXLink(self.plots[0])
            self.plots.append(plot)
            self._layout.insertWidget(len(self.plots) - 1, plot, 1)
        text = f"{len(self.epochs)} checkpoints"
        if self.parting:
            text += f" · shaded: held-out likelihood and quality move apart ({unit} {', '.join(map(str, self.parting))})"
        if gap_opens is not None:
            text += f" · dashed: held-out bits/dim best at {unit} {gap_opens}, the train/held-out gap widens after it"
        self.status.setText(" · ".join(part for part in (text, note) if part))

    def _band(self, epoch: int) -> tuple[float, float]:
        """From half-way to the previous checkpoint to the epoch itself: the interval in which things moved apart."""
        i = int(np.flatnonzero(self.epochs == epoch)[0])
        previous = self.epochs[i - 1] if i > 0 else epoch - 1
        return (float(previous + epoch) / 2, float(epoch))

    def _label(self, series: Series) -> str:
        return f"{series.label} {_ARROWS.get(series.better or '', '')}".strip()

    def _draw(self, plot: pg.PlotWidget, series: Series, colour) -> pg.PlotDataItem:
        x = self.epochs.astype(np.float64)
        y = np.asarray(series.values, np.float64)
        finite = np.isfinite(y)
        pen = pg.mkPen(colour, width=2)
        curve = plot.plot(x[finite], y[finite], pen=pen)
        if series.intervals is not None:
            low, high = series.intervals[:, 0], series.intervals[:, 1]
            ok = finite & np.isfinite(low) & np.isfinite(high)
            if ok.any():
                plot.addItem(pg.ErrorBarItem(x=x[ok], y=y[ok], bottom=(y - low)[ok], top=(high - y)[ok], beam=0,
                                             pen=pg.mkPen(theme.with_alpha(colour, 160))))
        points = pg.ScatterPlotItem(x=x[finite], y=y[finite], data=np.flatnonzero(finite), size=9,
                                    brush=pg.mkBrush(colour), pen=pg.mkPen(theme.plot_colours()[0]))
        points.setZValue(10)
        points.sigClicked.connect(self._on_point)
        plot.addItem(points)
        return curve

    def _on_point(self, item: pg.ScatterPlotItem, points: list, event: object) -> None:
        if len(points):
            self.checkpointActivated.emit(self.members[int(points[0].data())])

    def point_position(self, plot_index: int, checkpoint: int) -> QtCore.QPoint:
        """Viewport pixel of a checkpoint's first point in plot ``plot_index`` (to drive the view in tests)."""
        plot = self.plots[plot_index]
        item = next(i for i in plot.getPlotItem().items if isinstance(i, pg.ScatterPlotItem))
        x, y = item.data["x"][checkpoint], item.data["y"][checkpoint]
        return theme.viewport_point(plot, float(x), float(y))

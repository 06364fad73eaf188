"""Shared look of GenLoupe's plots: one colour per role, plots that follow the Qt palette.

Every view takes its colours from here so that "real", "generated", "selected" and "flagged"
mean the same thing in the histogram, the manifold and the quality scatter. The palette is
colour-blind safe (Okabe-Ito). Plots read their background and text colour from the
application palette, so a dark Qt theme gives dark plots. `make_plot` builds every plot the same
way (fonts, axis titles with units, grid), optionally on a `DragSelectViewBox`, whose left
button selects rather than pans.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

REAL = QtGui.QColor("#0072B2")  # blue: held-out / reference images
GENERATED = QtGui.QColor("#E69F00")  # orange: the model's samples
SELECTED = QtGui.QColor("#CC0077")  # magenta: the shared selection
FLAGGED = QtGui.QColor("#D00000")  # red: flagged by hand as bad
EXTRA = (QtGui.QColor("#009E73"), QtGui.QColor("#56B4E9"), QtGui.QColor("#8E44AD"), QtGui.QColor("#7F7F7F"))

FONT_POINT_SIZE = 10
NLL_LABEL = "negative log-likelihood"  # the x axis of every bits/dim plot


def series_colours(names: list[str]) -> dict[str, QtGui.QColor]:
    """Colour per named set by position: first = real, second = generated, then the extras."""
    cycle = (REAL, GENERATED, *EXTRA)
    return {name: QtGui.QColor(cycle[i % len(cycle)]) for i, name in enumerate(names)}


def with_alpha(colour: QtGui.QColor, alpha: int) -> QtGui.QColor:
    """A copy of colour with the given alpha (0..255)."""
    out = QtGui.QColor(colour)
    out.setAlpha(alpha)
    return out


def plot_colours() -> tuple[QtGui.QColor, QtGui.QColor]:
    """(background, foreground) of plots, taken from the application palette."""
    palette = QtWidgets.QApplication.palette()
    return palette.color(QtGui.QPalette.ColorRole.Base), palette.color(QtGui.QPalette.ColorRole.Text)


def configure_pyqtgraph() -> None:
    """Make pyqtgraph's defaults match the Qt palette (call once the QApplication exists)."""
    background, foreground = plot_colours()
    pg.setConfigOptions(background=background, foreground=foreground, antialias=True)


class DragSelectViewBox(pg.ViewBox):
    """A ViewBox whose plain left-drag and left-click select instead of panning.

    Ctrl+left-drag or middle-drag pans, the wheel and right-drag zoom, right-click opens
    pyqtgraph's menu. Positions are in view (data) coordinates.
    """

    sigSelectDrag = QtCore.Signal(object, object, bool, object)  # start, end, finished, modifiers
    sigSelectClick = QtCore.Signal(object, object, bool)  # pos, modifiers, double

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        ctrl = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier)
        if axis is not None or ev.button() != QtCore.Qt.MouseButton.LeftButton or ctrl:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapToView(ev.buttonDownPos(QtCore.Qt.MouseButton.LeftButton))
        self.sigSelectDrag.emit(start, self.mapToView(ev.pos()), ev.isFinish(), ev.modifiers())

    def mouseClickEvent(self, ev):  # noqa: N802 (Qt naming)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigSelectClick.emit(self.mapToView(ev.pos()), ev.modifiers(), ev.double())
            return
        super().mouseClickEvent(ev)


def axis_title(label: str, units: str | None) -> str:
    """'label (units)', the way every axis in GenLoupe names its units."""
    return f"{label} ({units})" if units else label


def set_axis_title(plot: pg.PlotWidget, side: str, label: str, units: str | None = None) -> None:
    """Title one axis ('bottom' or 'left') in the palette's text colour and GenLoupe's font size."""
    foreground = plot_colours()[1]
    plot.getAxis(side).setLabel(axis_title(label, units), color=foreground.name(),
                                **{"font-size": f"{FONT_POINT_SIZE}pt"})


def make_plot(x_label: str, y_label: str, *, x_units: str | None = None, y_units: str | None = None,
              view_box: pg.ViewBox | None = None) -> pg.PlotWidget:
    """A PlotWidget in the palette's colours with readable axis titles (no SI-prefix scaling)."""
    background, foreground = plot_colours()
    plot = pg.PlotWidget(viewBox=view_box, background=background)
    font = QtGui.QFont()
    font.setPointSize(FONT_POINT_SIZE)
    pen = pg.mkPen(foreground)
    for side, label, units in (("bottom", x_label, x_units), ("left", y_label, y_units)):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)
        axis.setPen(pen)
        axis.setTextPen(pen)
        axis.setTickFont(font)
        set_axis_title(plot, side, label, units)
    plot.showGrid(x=True, y=True, alpha=0.15)
    return plot


def set_title(plot: pg.PlotWidget, text: str | None) -> None:
    """The line of text above a plot (conventions, correlations); None or '' hides it."""
    plot.setTitle(text or None, color=plot_colours()[1].name(), size=f"{FONT_POINT_SIZE}pt")


def add_legend(plot: pg.PlotWidget) -> pg.LegendItem:
    """A legend in the plot's top-right corner, on a translucent palette-coloured box."""
    background, foreground = plot_colours()
    return plot.addLegend(offset=(-10, 10), labelTextColor=foreground, labelTextSize=f"{FONT_POINT_SIZE - 1}pt",
                          brush=pg.mkBrush(with_alpha(background, 210)), pen=pg.mkPen(with_alpha(foreground, 60)))


def stack_plot_and_status(widget: QtWidgets.QWidget, plot: pg.PlotWidget, status: QtWidgets.QLabel) -> None:
    """Lay out a plot view: the plot filling the widget, its one-line status under it."""
    layout = QtWidgets.QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(plot, 1)
    layout.addWidget(status)


def add_legend_below(plot: pg.PlotWidget, columns: int = 2) -> pg.LegendItem:
    """A legend in its own row under the x axis: for dense plots, where a legend inside covers points."""
    _, foreground = plot_colours()
    legend = pg.LegendItem(colCount=columns, labelTextColor=foreground, labelTextSize=f"{FONT_POINT_SIZE - 1}pt")
    plot.getPlotItem().layout.addItem(legend, 4, 1)
    return legend


def viewport_point(plot: pg.PlotWidget, x: float, y: float) -> QtCore.QPoint:
    """The viewport pixel where view position (x, y) is drawn (to place popups, or drive a plot in tests)."""
    scene_pos = plot.getPlotItem().getViewBox().mapViewToScene(QtCore.QPointF(x, y))
    return plot.mapFromScene(scene_pos)


def legend_key(brush: QtGui.QBrush, pen: QtGui.QPen, symbol: str = "o", size: float = 9) -> pg.ScatterPlotItem:
    """An empty scatter item whose only job is to draw a legend entry's marker."""
    return pg.ScatterPlotItem(symbol=symbol, size=size, brush=brush, pen=pen)


def status_label() -> QtWidgets.QLabel:
    """The one-line text under a plot (counts such as 'k / n', correlations)."""
    label = QtWidgets.QLabel()
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setContentsMargins(6, 2, 6, 2)
    return label

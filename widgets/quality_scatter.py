"""Likelihood against quality, per sample: bits/dim (x) against realism or nearest-real distance (y).

The question GenLoupe exists for, answered per sample: do the samples the model finds likely
look real? The Spearman rank correlation over the shown points is the plot's title.

`PointsView`, the selectable scatter under this view, is shared with the manifold view: one
ScatterPlotItem per category of a set (each with one shared pen and brush, so 50k points stay
fast), one more item as the selection overlay, click-nearest and rectangle selection, and linked
selection pushed in from outside without being emitted again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6 import QtCore, QtGui, QtWidgets

from . import theme
from .prepared import PointLayer, ScatterData, scatter_data

CLICK_TOLERANCE_PX = 10.0
_OVERLAY_GROW_PX = 4.0


class _PassiveScatter(pg.ScatterPlotItem):
    """A ScatterPlotItem of one style that leaves clicks to the view box (which picks the nearest point itself).

    Every point of an item shares the item's symbol, size, pen and brush, so the symbol's place in the
    atlas is looked up once instead of once per point in Python (0.2-0.3 s per 50 000 points).
    """

    def mouseClickEvent(self, ev):  # noqa: N802 (Qt naming)
        ev.ignore()

    def updateSpots(self, dataSet=None):  # noqa: N802, N803 (pyqtgraph naming)
        data = self.data if dataSet is None else dataSet
        if self.opts["pxMode"] and self.opts["useCache"] and len(data):
            style = (self.opts["symbol"], self.opts["size"], self.opts["pen"], self.opts["brush"])
            data["sourceRect"] = tuple(self.fragmentAtlas[[style]][0])
        super().updateSpots(dataSet)


@dataclass
class _Layer:
    """A prepared layer and the item that draws it."""

    item: _PassiveScatter
    points: PointLayer

    @property
    def group(self) -> str:
        return self.points.group

    @property
    def xy(self) -> np.ndarray:
        return self.points.xy

    @property
    def ids(self) -> np.ndarray | None:
        return self.points.ids

    @property
    def rows(self) -> np.ndarray:
        return self.points.rows


class PointsView(QtWidgets.QWidget):
    """A scatter of id'd points with click / rectangle selection and a selection overlay.

    Left-click selects the nearest point within CLICK_TOLERANCE_PX (Ctrl toggles it, Shift adds
    it; a click on empty space clears), left-drag selects the points in a rectangle (Shift adds),
    Ctrl- or middle-drag pans, the wheel zooms. User selections emit `selectionChanged(ids)`;
    `set_selection` / `clear_selection` from outside do not.
    """

    selectionChanged = QtCore.Signal(object)  # np.ndarray of int64 ids

    def __init__(self, x_label: str, y_label: str, *, x_units: str | None = None, y_units: str | None = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._view_box = theme.DragSelectViewBox()
        self.plot = theme.make_plot(x_label, y_label, x_units=x_units, y_units=y_units, view_box=self._view_box)
        self._layers: list[_Layer] = []
        self._selection = np.empty(0, dtype=np.int64)
        self._overlay = _PassiveScatter(symbol="o", pen=pg.mkPen(theme.SELECTED, width=1.5), brush=None)
        self._overlay.setZValue(20)
        self.plot.addItem(self._overlay)
        foreground = theme.plot_colours()[1]
        self._rubber = QtWidgets.QGraphicsRectItem()
        rubber_pen = pg.mkPen(foreground, width=1, style=QtCore.Qt.PenStyle.DashLine)
        self._rubber.setPen(rubber_pen)
        self._rubber.setBrush(pg.mkBrush(theme.with_alpha(theme.SELECTED, 30)))
        self._rubber.setZValue(30)
        self._rubber.hide()
        self.plot.addItem(self._rubber, ignoreBounds=True)
        self._flag_summary = ""
        self._subsample_note = ""  # says when a large plot draws a subsample
        self.status = theme.status_label()

        theme.stack_plot_and_status(self, self.plot, self.status)

        self._view_box.sigSelectClick.connect(self._on_click)
        self._view_box.sigSelectDrag.connect(self._on_drag)
        self._update_status()

    # layers ----------------------------------------------------------------------------
    def _clear_layers(self) -> None:
        for layer in self._layers:
            self.plot.removeItem(layer.item)
        self._layers = []

    def _add_layers(self, layers: Sequence[PointLayer], styles: Sequence[tuple[QtGui.QBrush, QtGui.QPen]],
                    z: float = 0.0) -> None:
        """Draw prepared layers (widgets/prepared.py): one item each, styles[category] its shared brush and pen.

        Later categories are drawn above earlier ones.
        """
        for points in layers:
            brush, pen = styles[points.category]
            item = _PassiveScatter(symbol="o", pxMode=True, brush=brush, pen=pen, size=points.size)
            item.setZValue(z + 0.1 * points.category)
            item.setData(pos=points.xy[points.drawn], size=points.size)
            self.plot.addItem(item)
            self._layers.append(_Layer(item, points))

    def _finish_layers(self, keep_view: bool, drawn: int | None = None) -> None:
        """Redraw the selection over the new points and, unless keep_view, fit the view to them.
        ``drawn``: how many points the layers draw, when a large plot draws a subsample."""
        total = self.point_count()
        self._subsample_note = f"drawing a random {drawn:,} of {total:,} points" if drawn is not None and drawn < total else ""
        self._draw_selection()
        if not keep_view:
            self.plot.autoRange()

    def _selectable(self) -> list[_Layer]:
        return [layer for layer in self._layers if layer.ids is not None]

    def point_count(self) -> int:
        """How many selectable points the view shows."""
        return sum(len(layer.ids) for layer in self._selectable())

    # lookups ---------------------------------------------------------------------------
    def nearest_id(self, x: float, y: float, max_px: float = CLICK_TOLERANCE_PX) -> int | None:
        """Id of the selectable point nearest to view position (x, y), within max_px screen pixels."""
        px, py = self._view_box.viewPixelSize()
        best_id, best = None, max_px ** 2
        for layer in self._selectable():
            if not len(layer.xy):
                continue
            d2 = ((layer.xy[:, 0] - x) / px) ** 2 + ((layer.xy[:, 1] - y) / py) ** 2
            i = int(np.argmin(d2))
            if d2[i] <= best:
                best_id, best = int(layer.ids[i]), float(d2[i])
        return best_id

    def ids_in_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Ids of the selectable points inside the rectangle spanned by two corners (view units)."""
        (xa, xb), (ya, yb) = sorted((x0, x1)), sorted((y0, y1))
        found = [layer.ids[(layer.xy[:, 0] >= xa) & (layer.xy[:, 0] <= xb)
                           & (layer.xy[:, 1] >= ya) & (layer.xy[:, 1] <= yb)] for layer in self._selectable()]
        return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)

    # user selection --------------------------------------------------------------------
    def _on_click(self, pos: QtCore.QPointF, modifiers, double: bool) -> None:
        if double:
            return
        hit = self.nearest_id(pos.x(), pos.y())
        ctrl = bool(modifiers & QtCore.Qt.KeyboardModifier.ControlModifier)
        shift = bool(modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier)
        if hit is None:
            if not (ctrl or shift) and self._selection.size:
                self._select_by_user(np.empty(0, dtype=np.int64))
        elif ctrl:
            self._select_by_user(np.setxor1d(self._selection, [hit]))
        elif shift:
            self._select_by_user(np.union1d(self._selection, [hit]))
        else:
            self._select_by_user(np.array([hit], dtype=np.int64))

    def _on_drag(self, start: QtCore.QPointF, end: QtCore.QPointF, finished: bool, modifiers) -> None:
        if not finished:
            self._rubber.setRect(QtCore.QRectF(start, end).normalized())
            self._rubber.show()
            return
        self._rubber.hide()
        inside = self.ids_in_rect(start.x(), start.y(), end.x(), end.y())
        if modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier:
            inside = np.union1d(self._selection, inside)
        self._select_by_user(inside)

    def _select_by_user(self, ids: np.ndarray) -> None:
        self._selection = np.unique(np.asarray(ids, dtype=np.int64))
        self._draw_selection()
        self.selectionChanged.emit(self._selection.copy())

    # linked selection ------------------------------------------------------------------
    def selection(self) -> np.ndarray:
        """The selected ids (sorted, unique), including ids this view does not show."""
        return self._selection.copy()

    def set_selection(self, ids: ArrayLike) -> None:
        """Show a selection held elsewhere (not emitted)."""
        self._selection = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        self._draw_selection()

    def clear_selection(self) -> None:
        """Clear the selection (not emitted)."""
        self.set_selection(np.empty(0, dtype=np.int64))

    def _draw_selection(self) -> None:
        xy, sizes = [], []
        for layer in self._selectable():
            chosen = np.isin(layer.ids, self._selection)
            xy.append(layer.xy[chosen])
            sizes.append(np.full(int(chosen.sum()), layer.points.size))
        xy_all = np.concatenate(xy) if xy else np.empty((0, 2))
        self._overlay.setData(pos=xy_all, size=(np.concatenate(sizes) if sizes else np.empty(0)) + _OVERLAY_GROW_PX)
        self._selection_drawn(xy_all)
        self._update_status()

    def _selection_drawn(self, xy: np.ndarray) -> None:
        """Hook for subclasses: the positions of the selected points just drawn."""

    def _update_status(self) -> None:
        shown = sum(int(np.isin(layer.ids, self._selection).sum()) for layer in self._selectable())
        hint = "click a point or drag a rectangle (Shift adds, Ctrl-drag pans)"
        flags = f" · {self._flag_summary}" if self._flag_summary else ""
        subsample = f" · {self._subsample_note}" if self._subsample_note else ""
        self.status.setText(f"selected {shown:,} / {self.point_count():,}{flags}{subsample} · {hint}")

    def set_flag_summary(self, text: str) -> None:
        """A line on the flags (e.g. '12 bad · 3 memorized'), shown in the status line."""
        self._flag_summary = text
        self._update_status()


class QualityScatter(PointsView):
    """Per-sample bits/dim against realism (or nearest-real distance), with Spearman's rho."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, units: str = "bits/dim"):
        super().__init__(theme.NLL_LABEL, "realism", x_units=units, parent=parent)
        self._units = units
        self._quality_label = "realism"
        self._styles = ((pg.mkBrush(theme.with_alpha(theme.GENERATED, 150)), pg.mkPen(None)),  # plain, flagged
                        (pg.mkBrush(theme.FLAGGED), pg.mkPen(theme.plot_colours()[1], width=1)))
        self._legend = theme.add_legend(self.plot)
        self._keys = tuple(theme.legend_key(*style) for style in self._styles)
        self.rho = float("nan")
        self.n = 0

    def set_data(self, bpd: ArrayLike, quality: ArrayLike, ids: ArrayLike | None = None, *,
                 quality_label: str = "realism", quality_units: str | None = None,
                 flagged: ArrayLike | None = None, name: str = "samples", size: float = 6.0,
                 keep_view: bool = False) -> None:
        """Show one point per sample; ids default to 0..n-1, flagged is a boolean mask.

        keep_view keeps the user's zoom (e.g. when only the flags changed).
        """
        self.set_prepared(scatter_data(bpd, quality, ids, flagged, name, size), quality_label=quality_label,
                          quality_units=quality_units, keep_view=keep_view)

    def set_prepared(self, data: ScatterData, *, quality_label: str = "realism", quality_units: str | None = None,
                     keep_view: bool = False) -> None:
        """Draw a scatter prepared by :func:`scatter_data` (on any thread): only hands arrays to pyqtgraph."""
        self._quality_label = quality_label
        theme.set_axis_title(self.plot, "left", quality_label, quality_units)
        self._clear_layers()
        self._legend.clear()
        self._add_layers(data.layers, self._styles)
        if data.layers:
            self._legend.addItem(self._keys[0], data.layers[0].group)
        if data.any_flagged:
            self._legend.addItem(self._keys[1], "flagged")
        self.rho, self.n = data.rho, data.n
        theme.set_title(self.plot, self.correlation_text())
        self._finish_layers(keep_view, data.drawn)

    def correlation_text(self) -> str:
        """'Spearman ρ = … (n = …)' between bits/dim and the quality measure shown."""
        rho = "n/a" if np.isnan(self.rho) else f"{self.rho:+.3f}".replace("-", "−")
        return f"Spearman ρ({self._units}, {self._quality_label}) = {rho}   (n = {self.n:,})"

"""Precision/recall manifold view: a 2-D projection of real and generated features.

The app gives the projection (PCA by default) as (N, 2) arrays. Each point is coloured by its set
(real or generated) and filled when it lies inside the other set's k-NN manifold, hollow when it
lies outside: hollow orange points are samples no real image vouches for (lost precision),
hollow blue points are real images the model does not reach (lost recall). Generated points
are sized by realism. Selecting exactly one point draws its k-NN radius as a circle.

Radius: the k-NN radius lives in feature space, which a projection does not preserve. The app
may pass radii already expressed in projected units; without them the view approximates the
radius by the distance to the k-th nearest neighbour of the same set in the 2-D projection, so
the circle shows the point's neighbourhood in the plane, not the feature-space ball.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6 import QtCore, QtGui, QtWidgets

from . import theme
from .prepared import ManifoldData, ManifoldSet, manifold_data
from .quality_scatter import PointsView

def knn_radius_2d(xy: np.ndarray, i: int, k: int) -> float:
    """Distance from point i to its k-th nearest other point of xy (the in-plane approximation)."""
    d = np.sqrt(((xy - xy[i]) ** 2).sum(axis=1))
    d[i] = np.inf
    k = min(k, len(d) - 1)
    return float(np.partition(d, k - 1)[k - 1]) if k >= 1 else float("nan")


class ManifoldView(PointsView):
    """Real and generated points of a 2-D projection, coloured by manifold membership."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("component 1", "component 2", parent=parent)
        self.plot.setAspectLocked(True)
        self._legend = theme.add_legend_below(self.plot)
        outline = theme.plot_colours()[0]
        # (role, inside) -> (brush, pen), shared by every point of that category:
        # filled when inside the other set's manifold, hollow (background fill, coloured ring) when not
        self._style: dict[tuple[str, bool], tuple[QtGui.QBrush, QtGui.QPen]] = {}
        for role, colour in (("real", theme.REAL), ("generated", theme.GENERATED)):
            self._style[role, True] = (pg.mkBrush(theme.with_alpha(colour, 150)),
                                       pg.mkPen(theme.with_alpha(outline, 120), width=0.5))
            self._style[role, False] = (pg.mkBrush(theme.with_alpha(outline, 200)), pg.mkPen(colour, width=1.5))
        self._circle = QtWidgets.QGraphicsEllipseItem()
        self._circle.setPen(pg.mkPen(theme.SELECTED, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
        self._circle.setZValue(25)
        self._circle.hide()
        self.plot.addItem(self._circle, ignoreBounds=True)
        self._sets: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}  # name -> (xy, k-NN radii or None)
        self.k = 3
        self.radius_shown = float("nan")

    def set_data(self, real_xy: ArrayLike, generated_xy: ArrayLike, *,
                 generated_ids: ArrayLike | None = None, real_ids: ArrayLike | None = None,
                 real_in: ArrayLike | None = None, generated_in: ArrayLike | None = None,
                 realism: ArrayLike | None = None,
                 real_radii: ArrayLike | None = None, generated_radii: ArrayLike | None = None,
                 k: int = 3, names: tuple[str, str] = ("held-out real", "samples"),
                 axis_labels: tuple[str, str] = ("component 1", "component 2"), title: str | None = None,
                 keep_view: bool = False) -> None:
        """Show both sets.

        generated_ids default to 0..n-1; real points are selectable only when real_ids are
        given (then make ids unique across both sets). real_in / generated_in: inside the other
        set's manifold (None: unknown, drawn filled). realism sizes the generated points.
        radii: k-NN radius per point in projected units (None: in-plane approximation with k).
        title (e.g. 'PCA of digits-cnn features, k = 3') defaults to naming k.
        Real points are drawn over generated ones: they are usually the fewer.
        """
        self.set_prepared(manifold_data(
            real_xy, generated_xy, generated_ids=generated_ids, real_ids=real_ids, real_in=real_in,
            generated_in=generated_in, realism=realism, real_radii=real_radii, generated_radii=generated_radii, k=k,
            names=names, axis_labels=axis_labels, title=title), keep_view=keep_view)

    def set_prepared(self, data: ManifoldData, keep_view: bool = False) -> None:
        """Draw what :func:`manifold_data` prepared (on any thread): only hands arrays to pyqtgraph."""
        self.k = data.k
        theme.set_axis_title(self.plot, "bottom", data.axis_labels[0])
        theme.set_axis_title(self.plot, "left", data.axis_labels[1])
        theme.set_title(self.plot, data.title)
        self._clear_layers()
        self._legend.clear()
        self._sets = {}
        for role, points, z in (("real", data.real, 1.0), ("generated", data.generated, 0.0)):
            styles = (self._style[role, True], self._style[role, False])
            self._add_layers(points.layers, styles, z)
            self._sets[points.name] = (points.xy, points.radii)
            self._add_legend_entries(styles, points)
        self._finish_layers(keep_view, data.drawn)

    def _add_legend_entries(self, styles: tuple[tuple[QtGui.QBrush, QtGui.QPen], ...], points: ManifoldSet) -> None:
        """One entry per category shown, with its count; one plain entry when membership is unknown."""
        if not points.inside + points.outside:
            return
        if not points.known:
            self._legend.addItem(theme.legend_key(*styles[0]), points.name)
            return
        # Named as the inspector and the report name membership (app.wording.INSIDE): any ball, unlike realism's
        # typical-size balls, so a filled point with realism < 1 never reads as a contradiction.
        for style, count, where in ((styles[0], points.inside, f"inside a {points.other} ball (any size)"),
                                    (styles[1], points.outside, f"outside every {points.other} ball")):
            if count:
                self._legend.addItem(theme.legend_key(*style), f"{points.name}: {where}: {count:,}")

    def _selection_drawn(self, xy: np.ndarray) -> None:
        """Draw the k-NN radius circle around the one selected point, if exactly one is shown."""
        self.radius_shown = float("nan")
        self._circle.hide()
        if len(xy) != 1:
            return
        for layer in self._selectable():
            where = np.flatnonzero(np.isin(layer.ids, self._selection))
            if where.size:
                row = int(layer.rows[where[0]])
                set_xy, radii = self._sets[layer.group]
                radius = float(radii[row]) if radii is not None else knn_radius_2d(set_xy, row, self.k)
                if np.isfinite(radius) and radius > 0:
                    x, y = set_xy[row]
                    self._circle.setRect(QtCore.QRectF(x - radius, y - radius, 2 * radius, 2 * radius))
                    self._circle.show()
                    self.radius_shown = radius
                return

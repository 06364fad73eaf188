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
from PySide6 import QtCore, QtWidgets

from . import theme
from .quality_scatter import PointsView

SIZES_PX = np.array([4.0, 6.0, 8.0, 10.0, 12.0])  # a few sizes keep pyqtgraph's symbol atlas small
REAL_SIZE_PX = 6.0
REALISM_MAX = 2.0  # realism 1 is the edge of the real manifold; 2 and above get the largest size


def realism_sizes(realism: ArrayLike) -> np.ndarray:
    """Marker size (px) per point: realism clipped to [0, REALISM_MAX] and binned into SIZES_PX."""
    r = np.nan_to_num(np.asarray(realism, dtype=np.float64), nan=0.0, posinf=REALISM_MAX, neginf=0.0)
    index = np.rint(np.clip(r, 0.0, REALISM_MAX) / REALISM_MAX * (len(SIZES_PX) - 1)).astype(np.intp)
    return SIZES_PX[index]


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
        self._legend = theme.add_legend(self.plot)
        outline = theme.plot_colours()[0]
        self._style = {}  # (role, inside) -> (brush, pen); shared by every point of that category
        for role, colour in (("real", theme.REAL), ("generated", theme.GENERATED)):
            self._style[role, True] = (pg.mkBrush(theme.with_alpha(colour, 170)), pg.mkPen(theme.with_alpha(outline, 120), width=0.5))
            self._style[role, False] = (pg.mkBrush(theme.with_alpha(outline, 200)), pg.mkPen(colour, width=1.5))
        self._circle = QtWidgets.QGraphicsEllipseItem()
        self._circle.setPen(pg.mkPen(theme.SELECTED, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
        self._circle.setZValue(25)
        self._circle.hide()
        self.plot.addItem(self._circle, ignoreBounds=True)
        self._radii: list[np.ndarray | None] = []  # per layer: k-NN radius of each drawn point, projected units
        self.k = 3
        self.radius_shown = float("nan")

    def set_data(self, real_xy: ArrayLike, generated_xy: ArrayLike, *,
                 generated_ids: ArrayLike | None = None, real_ids: ArrayLike | None = None,
                 real_in: ArrayLike | None = None, generated_in: ArrayLike | None = None,
                 realism: ArrayLike | None = None,
                 real_radii: ArrayLike | None = None, generated_radii: ArrayLike | None = None,
                 k: int = 3, names: tuple[str, str] = ("held-out real", "samples"),
                 axis_labels: tuple[str, str] = ("component 1", "component 2"),
                 keep_view: bool = False) -> None:
        """Show both sets.

        generated_ids default to 0..n-1; real points are selectable only when real_ids are
        given (then make ids unique across both sets). real_in / generated_in: inside the other
        set's manifold (None: unknown, drawn filled). realism sizes the generated points.
        radii: k-NN radius per point in projected units (None: in-plane approximation with k).
        """
        real_xy = np.asarray(real_xy, dtype=np.float64).reshape(-1, 2)
        gen_xy = np.asarray(generated_xy, dtype=np.float64).reshape(-1, 2)
        gen_ids = np.arange(len(gen_xy), dtype=np.int64) if generated_ids is None else generated_ids
        gen_sizes = REAL_SIZE_PX if realism is None else realism_sizes(realism)
        self.k = k
        theme.set_axis_title(self.plot, "bottom", axis_labels[0])
        theme.set_axis_title(self.plot, "left", axis_labels[1])
        self._clear_layers()
        self._legend.clear()
        self._radii = []
        for role, xy, ids, inside, sizes, radii, z, name in (
                ("real", real_xy, real_ids, real_in, REAL_SIZE_PX, real_radii, 0.0, names[0]),
                ("generated", gen_xy, gen_ids, generated_in, gen_sizes, generated_radii, 1.0, names[1])):
            inside = np.ones(len(xy), bool) if inside is None else np.asarray(inside, bool).ravel()
            if len(inside) != len(xy):
                raise ValueError(f"{name}: {len(inside)} membership flags for {len(xy)} points")
            brushes, pens = self._category_arrays(role, inside)
            layer = self._add_layer(xy, ids, sizes=sizes, brushes=brushes, pens=pens, z=z)
            self._radii.append(None if radii is None else np.asarray(radii, dtype=np.float64).ravel()[layer.rows])
            self._add_legend_entries(role, name, inside, known=(real_in if role == "real" else generated_in) is not None)
        self._finish_layers(keep_view)

    def _category_arrays(self, role: str, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-point arrays holding one of two shared brushes and pens."""
        brushes = np.empty(len(inside), dtype=object)
        pens = np.empty(len(inside), dtype=object)
        for flag in (True, False):
            brush, pen = self._style[role, flag]
            brushes[inside == flag] = brush
            pens[inside == flag] = pen
        return brushes, pens

    def _add_legend_entries(self, role: str, name: str, inside: np.ndarray, known: bool) -> None:
        other = "samples'" if role == "real" else "real"
        if not known:
            self._legend.addItem(theme.legend_key(*self._style[role, True]), name)
            return
        for flag, where in ((True, "inside"), (False, "outside")):
            count = int((inside == flag).sum())
            if count:
                label = f"{name}, {where} {other} manifold ({count:,})"
                self._legend.addItem(theme.legend_key(*self._style[role, flag]), label)

    def _selection_drawn(self, xy: np.ndarray) -> None:
        """Draw the k-NN radius circle around the one selected point, if exactly one is shown."""
        self.radius_shown = float("nan")
        self._circle.hide()
        if len(xy) != 1:
            return
        for layer, radii in zip(self._layers, self._radii):
            where = np.empty(0, np.intp) if layer.ids is None else np.flatnonzero(np.isin(layer.ids, self._selection))
            if where.size:
                i = int(where[0])
                radius = float(radii[i]) if radii is not None else knn_radius_2d(layer.xy, i, self.k)
                if np.isfinite(radius) and radius > 0:
                    x, y = layer.xy[i]
                    self._circle.setRect(QtCore.QRectF(x - radius, y - radius, 2 * radius, 2 * radius))
                    self._circle.show()
                    self.radius_shown = radius
                return

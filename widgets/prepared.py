"""View data ready to draw, computed with numpy alone: no Qt here, so it runs on a worker thread.

What scales with the number of samples — histogram bins, the split of a scatter into layers that
pyqtgraph draws fast, rank correlations — is computed by these functions, off the GUI thread where
the app calls them from a worker. The views' ``set_prepared`` then only hands arrays to pyqtgraph.
The views' own ``set_data``/``set_sets`` call the same functions, so both ways draw the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class HistogramData:
    """Named sets on shared bin edges: per-bin shares (%) of each set with finite values."""

    edges: np.ndarray
    values: dict[str, np.ndarray]  # float64, every value (non-finite ones are left out of the bins)
    ids: dict[str, np.ndarray]  # int64 sample ids per set
    heights: dict[str, np.ndarray]  # only sets with at least one finite value


def shares(values: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """Per-bin share (%) of the finite values, out of a set of n."""
    counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
    return counts * (100.0 / max(n, 1))


def histogram_data(sets: Mapping[str, ArrayLike], ids: Mapping[str, ArrayLike] | None = None,
                   bins: int | str = 30) -> HistogramData:
    """Bins shared by every set (ids default to 0..n-1 per set)."""
    values = {name: np.asarray(v, dtype=np.float64).ravel() for name, v in sets.items()}
    set_ids = {name: np.asarray(ids[name], dtype=np.int64).ravel() if ids and name in ids
               else np.arange(len(v), dtype=np.int64) for name, v in values.items()}
    for name, v in values.items():
        if len(set_ids[name]) != len(v):
            raise ValueError(f"set {name!r}: {len(set_ids[name])} ids for {len(v)} values")
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] or [np.empty(0)])
    edges = np.histogram_bin_edges(finite, bins=bins) if finite.size else np.empty(0)
    heights = {}
    for name, v in values.items():
        n = int(np.isfinite(v).sum())
        if n:
            heights[name] = shares(v, edges, n)
    return HistogramData(edges, values, set_ids, heights)


MAX_DRAWN = 12_000  # points a scatter draws; beyond, a seeded random subsample (selection still sees every point)


@dataclass(frozen=True)
class PointLayer:
    """Points of one set sharing one category and one marker size: one pyqtgraph item, one style."""

    group: str  # the set's name
    category: int  # index into the view's styles
    size: float  # marker size, pixels
    xy: np.ndarray  # (N, 2) float64, finite
    ids: np.ndarray | None  # (N,) int64; None: not selectable
    rows: np.ndarray  # (N,) index of each point in the set's arrays
    drawn: np.ndarray  # (M,) positions in xy drawn (all of them, or a subsample of a large plot)


def drawn_subsample(n: int, keep: np.ndarray | None = None, limit: int = MAX_DRAWN) -> np.ndarray:
    """Which of n points to draw: all up to ``limit``, else a seeded random ``limit`` of them plus every
    point ``keep`` marks (flagged samples stay visible). Seeded, so a redraw keeps the same points."""
    if n <= limit:
        return np.ones(n, bool)
    chosen = np.zeros(n, bool)
    chosen[np.random.default_rng(0).choice(n, limit, replace=False)] = True
    return chosen | keep if keep is not None else chosen


def point_layers(group: str, xy: ArrayLike, ids: ArrayLike | None, sizes: ArrayLike | float,
                 category: ArrayLike | None = None, n_categories: int = 1,
                 drawn: np.ndarray | None = None) -> tuple[PointLayer, ...]:
    """Split a set into layers of one (category, size) each; rows with a non-finite coordinate are dropped.
    ``drawn`` (a mask over the rows, default all) marks the points the layers draw.

    pyqtgraph looks each point's style up per point in Python unless every point of an item shares
    one (then the view looks it up once), so uniform layers are what keeps 50 000 points fast.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    ids_arr = None if ids is None else np.asarray(ids, dtype=np.int64).ravel()
    if ids_arr is not None and len(ids_arr) != n:
        raise ValueError(f"{group}: {len(ids_arr)} ids for {n} points")
    cat = np.zeros(n, np.intp) if category is None else np.asarray(category, np.intp).ravel()
    if len(cat) != n:
        raise ValueError(f"{group}: {len(cat)} categories for {n} points")
    size_arr = np.broadcast_to(np.asarray(sizes, dtype=np.float64), (n,))
    finite = np.isfinite(xy).all(axis=1)
    drawn = np.ones(n, bool) if drawn is None else drawn
    layers = []
    for c in range(n_categories):
        in_category = finite & (cat == c)
        for size in np.unique(size_arr[in_category]):
            rows = np.flatnonzero(in_category & (size_arr == size))
            layers.append(PointLayer(group, c, float(size), xy[rows], None if ids_arr is None else ids_arr[rows], rows,
                                     np.flatnonzero(drawn[rows])))
    return tuple(layers)


@dataclass(frozen=True)
class ScatterData:
    """The likelihood-quality scatter: its layers and the rank correlation over its points."""

    layers: tuple[PointLayer, ...]
    rho: float
    n: int
    any_flagged: bool
    drawn: int  # points drawn (fewer than n when subsampled)


def scatter_data(bpd: ArrayLike, quality: ArrayLike, ids: ArrayLike | None = None, flagged: ArrayLike | None = None,
                 name: str = "samples", size: float = 6.0, rank: tuple[float, int] | None = None) -> ScatterData:
    """Plain and flagged layers of bits/dim against quality, with Spearman's rho (``rank`` gives it when known:
    flags change the layers, not the correlation)."""
    bpd = np.asarray(bpd, dtype=np.float64).ravel()
    quality = np.asarray(quality, dtype=np.float64).ravel()
    if bpd.shape != quality.shape:
        raise ValueError(f"{bpd.size} bits/dim values for {quality.size} quality values")
    ids = np.arange(bpd.size, dtype=np.int64) if ids is None else ids
    flags = np.zeros(bpd.size, bool) if flagged is None else np.asarray(flagged, bool).ravel()
    rho, n = spearman(bpd, quality) if rank is None else rank
    drawn = drawn_subsample(bpd.size, keep=flags)
    layers = point_layers(name, np.column_stack([bpd, quality]), ids, size, flags, n_categories=2, drawn=drawn)
    return ScatterData(layers, rho, n, bool(flags.any()), sum(len(layer.drawn) for layer in layers))


def spearman(x: ArrayLike, y: ArrayLike) -> tuple[float, int]:
    """Spearman rank correlation over the pairs where both are finite, and that count.

    NaN when fewer than 3 pairs remain or either side is constant.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    n = int(keep.sum())
    if n < 3:
        return float("nan"), n
    rx, ry = average_ranks(x[keep]), average_ranks(y[keep])
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan"), n
    return float(np.corrcoef(rx, ry)[0, 1]), n


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (as scipy's rankdata), in numpy alone."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


SIZES_PX = np.array([3.0, 4.5, 6.0, 8.0, 10.0])  # a few sizes keep pyqtgraph's symbol atlas small
REAL_SIZE_PX = 6.0
REALISM_MAX = 2.0  # realism 1 is the edge of the real manifold; 2 and above get the largest size


def realism_sizes(realism: ArrayLike) -> np.ndarray:
    """Marker size (px) per point: realism clipped to [0, REALISM_MAX] and binned into SIZES_PX."""
    r = np.nan_to_num(np.asarray(realism, dtype=np.float64), nan=0.0, posinf=REALISM_MAX, neginf=0.0)
    index = np.rint(np.clip(r, 0.0, REALISM_MAX) / REALISM_MAX * (len(SIZES_PX) - 1)).astype(np.intp)
    return SIZES_PX[index]


@dataclass(frozen=True)
class ManifoldSet:
    """One set of the manifold view: its points, layers (category 0 inside, 1 outside) and legend counts."""

    name: str
    other: str
    xy: np.ndarray  # (N, 2) float64, every point (for the radius circle)
    radii: np.ndarray | None  # k-NN radius per point in projected units, or None
    layers: tuple[PointLayer, ...]
    inside: int
    outside: int
    known: bool  # membership given (else every point is drawn as inside, with one plain legend entry)


@dataclass(frozen=True)
class ManifoldData:
    real: ManifoldSet
    generated: ManifoldSet
    k: int
    axis_labels: tuple[str, str]
    title: str
    drawn: int  # points drawn of both sets (fewer than all when subsampled)


def manifold_data(real_xy: ArrayLike, generated_xy: ArrayLike, *, generated_ids: ArrayLike | None = None,
                  real_ids: ArrayLike | None = None, real_in: ArrayLike | None = None,
                  generated_in: ArrayLike | None = None, realism: ArrayLike | None = None,
                  real_radii: ArrayLike | None = None, generated_radii: ArrayLike | None = None, k: int = 3,
                  names: tuple[str, str] = ("held-out real", "samples"),
                  axis_labels: tuple[str, str] = ("component 1", "component 2"),
                  title: str | None = None) -> ManifoldData:
    """Both sets of the manifold view split into layers (see ManifoldView.set_data for the arguments)."""
    real_xy = np.asarray(real_xy, dtype=np.float64).reshape(-1, 2)
    gen_xy = np.asarray(generated_xy, dtype=np.float64).reshape(-1, 2)
    gen_ids = np.arange(len(gen_xy), dtype=np.int64) if generated_ids is None else generated_ids
    gen_sizes = REAL_SIZE_PX if realism is None else realism_sizes(realism)
    drawn = drawn_subsample(len(real_xy) + len(gen_xy))
    sets = []
    for xy, ids, inside, sizes, radii, name, other, shown in (
            (real_xy, real_ids, real_in, REAL_SIZE_PX, real_radii, names[0], names[1], drawn[:len(real_xy)]),
            (gen_xy, gen_ids, generated_in, gen_sizes, generated_radii, names[1], names[0], drawn[len(real_xy):])):
        known = inside is not None
        inside = np.ones(len(xy), bool) if inside is None else np.asarray(inside, bool).ravel()
        if len(inside) != len(xy):
            raise ValueError(f"{name}: {len(inside)} membership flags for {len(xy)} points")
        layers = point_layers(name, xy, ids, sizes, ~inside, n_categories=2, drawn=shown)
        sets.append(ManifoldSet(name, other, xy, None if radii is None else np.asarray(radii, np.float64).ravel(),
                                layers, int(inside.sum()), int((~inside).sum()), known))
    return ManifoldData(sets[0], sets[1], k, axis_labels, title if title is not None else f"k-NN manifolds, k = {k}",
                        sum(len(layer.drawn) for points in sets for layer in points.layers))

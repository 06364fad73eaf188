"""Exact k-nearest neighbours in tiles within a memory budget: never an N×N matrix.

Squared distances come from the expansion ‖a‖² + ‖b‖² − 2a·b in float32, one matrix product per tile, on
points first centred in float64 so that the expansion cancels little. Their rounding error is bounded
(:func:`rounding_bound`), and every decision that falls within that bound — which candidates are the k
nearest, whether a pair lies inside a ball — is settled on distances recomputed in float64 from the
caller's features as Σ(a − b)². The answers are therefore the same on the CPU and on a GPU and for every
tile size (memory budget); only exact ties between different neighbours may pick different indices.
A point's own distance is excluded from its k-NN radius by index, never by testing for zero, so
duplicated points count as the neighbours they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..device import is_out_of_memory
from ..progress import Progress
from .linalg import matmul

DEFAULT_MEMORY_BUDGET = 1 << 30
# On the CPU, 2048-wide tiles already run the products at full BLAS speed; more memory would only cost.
CPU_WORKING_SET = 64 << 20
# Working memory per pair of a tile: the float32 distances, a float32 scratch tile, slack for top-k temporaries.
BYTES_PER_PAIR = 12
# Float32 candidates kept per row beyond k, so that the exact k nearest are almost always among them.
CANDIDATE_MARGIN = 4
UNIT_ROUNDOFF = 2.0**-24
_MIN_BUDGET = 1 << 20


def rounding_bound(dim: int) -> float:
    """γ such that a float32 tile distance is within γ·(‖a‖² + ‖b‖²) of the exact one (centred points).

    The norms, the centring and the additions contribute at most about 12u; the product's worst case over
    every summation order grows like dim·u, but BLAS kernels accumulate in blocks and the rounding errors
    of centred data do not line up: observed errors stay below 6u in all (tests check a tenfold margin).
    8√dim·u + 64u leaves that margin and more; pairs within it are settled exactly anyway.
    """
    return (8.0 * math.sqrt(dim) + 64.0) * UNIT_ROUNDOFF


def working_budget(memory_budget: int, device: torch.device) -> int:
    """Bytes a pass may use: the whole budget on a GPU, at most ``CPU_WORKING_SET`` on the CPU."""
    return min(memory_budget, CPU_WORKING_SET) if device.type == "cpu" else memory_budget


@dataclass(frozen=True)
class PointSet:
    """One feature set prepared for tiles."""

    exact: torch.Tensor  # (N, d) the caller's values, float32 or float64: exact distances come from these
    work: torch.Tensor  # (N, W) float32 rows [w, ‖w‖², 1, 0…] with w centred on the joint mean, W = work_width(d)

    @property
    def n(self) -> int:
        return int(self.exact.shape[0])

    @property
    def dim(self) -> int:
        return int(self.exact.shape[1])

    @property
    def norms(self) -> torch.Tensor:
        """(N,) float32 squared norms of the centred points."""
        return self.work[:, self.dim]


def work_width(dim: int) -> int:
    """Columns of the product operands: d + 2, padded with zeros to a multiple of 8 (aligned GPU loads)."""
    return -(-(dim + 2) // 8) * 8


def prepare_points(sets: Sequence[torch.Tensor], memory_budget: int) -> list[PointSet]:
    """Centre all sets on their joint mean (float64) and keep float32 rows [w, ‖w‖², 1] for the products."""
    dim = sets[0].shape[1]
    device = sets[0].device
    rows = max(1, memory_budget // (dim * 8 * 3))
    total = torch.zeros(dim, dtype=torch.float64, device=device)
    for x in sets:
        for start in range(0, x.shape[0], rows):
            total += x[start : start + rows].to(torch.float64).sum(0)
    shift = total / sum(x.shape[0] for x in sets)
    prepared = []
    for x in sets:
        work = torch.zeros((x.shape[0], work_width(dim)), dtype=torch.float32, device=device)
        work[:, dim + 1] = 1.0
        for start in range(0, x.shape[0], rows):
            chunk = (x[start : start + rows].to(torch.float64) - shift).to(torch.float32)
            work[start : start + rows, :dim] = chunk
            work[start : start + rows, dim] = chunk.to(torch.float64).square().sum(1).to(torch.float32)
        prepared.append(PointSet(exact=x, work=work))
    return prepared


def column_form(work: torch.Tensor, dim: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """[−2w, 1, ‖w‖², 0…] for rows [w, ‖w‖², 1, 0…]: one product then gives ‖a‖² + ‖b‖² − 2a·b with no
    extra pass over the tile (the factor −2 is exact in floating point). ``out`` must hold zeros past d + 2."""
    out = torch.zeros_like(work) if out is None else out
    torch.mul(work[:, :dim], -2.0, out=out[:, :dim])
    out[:, dim] = 1.0
    out[:, dim + 1] = work[:, dim]
    return out


def exact_sq_distances(
    a: torch.Tensor, a_index: torch.Tensor, b: torch.Tensor, b_index: torch.Tensor, memory_budget: int
) -> torch.Tensor:
    """Σ(a_i − b_j)² in float64 for the given index pairs (exactly 0 for identical points)."""
    if a.device.type == "cpu":
        return torch.from_numpy(_exact_sq_distances_cpu(a.numpy(), a_index.numpy(), b.numpy(), b_index.numpy()))
    out = torch.empty(a_index.shape[0], dtype=torch.float64, device=a.device)
    step = max(1, memory_budget // (a.shape[1] * 32))  # two gathered rows, their float64 copies, the difference
    for start in range(0, a_index.shape[0], step):
        stop = start + step
        diff = a[a_index[start:stop]].to(torch.float64) - b[b_index[start:stop]].to(torch.float64)
        out[start:stop] = diff.square_().sum(1)
    return out


def _exact_sq_distances_cpu(a: np.ndarray, a_index: np.ndarray, b: np.ndarray, b_index: np.ndarray) -> np.ndarray:
    """NumPy subtracts in float64 as it casts and sums the squares in one pass, in chunks that stay in
    cache: half the time of torch's separate copies, and no hand-over to torch's OpenMP pool."""
    out = np.empty(len(a_index))
    for start in range(0, len(a_index), 256):
        diff = np.subtract(a[a_index[start : start + 256]], b[b_index[start : start + 256]], dtype=np.float64)
        out[start : start + 256] = np.einsum("ij,ij->i", diff, diff)
    return out


def tile_side(memory_budget: int, dim: int) -> int:
    """Side of the square tiles whose pairs (``BYTES_PER_PAIR`` each) and column block fit the budget."""
    column_bytes = 4 * work_width(dim)
    side = (math.isqrt(column_bytes**2 + 4 * BYTES_PER_PAIR * memory_budget) - column_bytes) // (2 * BYTES_PER_PAIR)
    return max(1, side)


def tile_slices(n: int, side: int) -> list[slice]:
    return [slice(start, min(start + side, n)) for start in range(0, n, side)]


class Tiles:
    """Float32 squared-distance tiles between row points and column points, in reused buffers."""

    def __init__(self, rows: PointSet, cols: PointSet, memory_budget: int) -> None:
        side = tile_side(memory_budget, rows.dim)
        self.rows, self.cols = rows, cols
        self.row_slices = tile_slices(rows.n, side)
        self.col_slices = tile_slices(cols.n, side)
        size = min(side, rows.n) * min(side, cols.n)
        device = rows.work.device
        self._distances = torch.empty(size, dtype=torch.float32, device=device)
        self._scratch = torch.empty(size, dtype=torch.float32, device=device)
        self._columns = torch.zeros((min(side, cols.n), cols.work.shape[1]), dtype=torch.float32, device=device)
        self._columns_of = -1
        self.gamma = rounding_bound(rows.dim)
        self._row_max = torch.stack([rows.norms[s].max() for s in self.row_slices]).tolist()
        self._col_max = torch.stack([cols.norms[s].max() for s in self.col_slices]).tolist()

    def pairs(self, symmetric: bool = False) -> list[tuple[int, int]]:
        """Tile index pairs, column tile outermost; ``symmetric`` (rows and columns are the same set) keeps
        i ≤ j only."""
        return [
            (i, j)
            for j in range(len(self.col_slices))
            for i in range(j + 1 if symmetric else len(self.row_slices))
        ]

    def distances(self, i: int, j: int) -> torch.Tensor:
        """Approximate squared distances of tile (i, j), valid until the next call."""
        rs, cs = self.row_slices[i], self.col_slices[j]
        if self._columns_of != j:
            column_form(self.cols.work[cs], self.cols.dim, out=self._columns[: cs.stop - cs.start])
            self._columns_of = j
        d = self._distances[: (rs.stop - rs.start) * (cs.stop - cs.start)].view(rs.stop - rs.start, cs.stop - cs.start)
        return matmul(self.rows.work[rs], self._columns[: cs.stop - cs.start].T, out=d)

    def scratch(self, like: torch.Tensor) -> torch.Tensor:
        return self._scratch[: like.numel()].view(like.shape)

    def release(self) -> None:
        """Free the tile buffers, so that what follows has the whole budget."""
        self._distances = self._scratch = self._columns = torch.empty(0)

    def delta(self, i: int, j: int) -> float:
        """Bound on the rounding error of every distance in tile (i, j)."""
        return self.gamma * (self._row_max[i] + self._col_max[j])


class Steps:
    """Counts tiles for a progress object and honours cancellation between them."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, max(total, 1), 0

    def __call__(self, stage: str) -> None:
        self.done += 1
        self.progress.update(self.done, self.total, stage)
        self.progress.check()


class Candidates:
    """The kc smallest float32 distances seen so far for each query row, with their column indices."""

    def __init__(self, n: int, kc: int, device: torch.device) -> None:
        self.kc = kc
        self.values = torch.full((n, kc), math.inf, dtype=torch.float32, device=device)
        self.indices = torch.full((n, kc), -1, dtype=torch.int64, device=device)

    def offer_tile(self, rows: slice, tile: torch.Tensor, col_start: int, dim: int = 1) -> None:
        """Merge a tile's smallest values per row (``dim=1``) or per column (``dim=0``: the transposed half
        of a symmetric tile, whose columns are then the query rows)."""
        if tile.device.type == "cpu":
            worst = self.values[rows].amax(1)
            if bool(torch.isfinite(worst).all()):
                self._offer_below(rows, tile, col_start, dim, worst)
                return
        values, positions = tile.topk(min(self.kc, tile.shape[dim]), dim=dim, largest=False, sorted=False)
        if dim == 0:
            values, positions = values.T, positions.T
        self._merge(rows, values, positions + col_start)

    def _offer_below(self, rows: slice, tile: torch.Tensor, col_start: int, dim: int, worst: torch.Tensor) -> None:
        """Once every query row holds kc candidates only values below its current worst can enter, and
        after the first tiles those are few: on the CPU one comparison pass finds them, cheaper than a
        top-k over the whole tile. (On a GPU the top-k is cheap and finding them would synchronise.)"""
        if dim == 1:
            query, column = (tile < worst[:, None]).nonzero(as_tuple=True)
        else:
            column, query = (tile < worst[None, :]).nonzero(as_tuple=True)
            order = query.argsort(stable=True)
            query, column = query[order], column[order]
        if query.numel() == 0:
            return
        values = tile[query, column] if dim == 1 else tile[column, query]
        lines, counts = torch.unique_consecutive(query, return_counts=True)
        line = torch.arange(lines.numel()).repeat_interleave(counts)
        slot = torch.arange(query.numel()) - (counts.cumsum(0) - counts).repeat_interleave(counts)
        offered = torch.full((lines.numel(), int(counts.max())), math.inf, dtype=tile.dtype)
        offered_indices = torch.full(offered.shape, -1, dtype=torch.int64)
        offered[line, slot] = values
        offered_indices[line, slot] = column + col_start
        self._merge(lines + rows.start, offered, offered_indices)

    def _merge(self, rows: slice | torch.Tensor, values: torch.Tensor, indices: torch.Tensor) -> None:
        """Keep the kc smallest of each row's candidates and the offered values (``inf`` pads)."""
        merged_values = torch.cat([self.values[rows], values], 1)
        merged_indices = torch.cat([self.indices[rows], indices], 1)
        best, where = merged_values.topk(self.kc, dim=1, largest=False, sorted=False)
        self.values[rows] = best
        self.indices[rows] = merged_indices.gather(1, where)

    def finish(
        self, query: PointSet, ref: PointSet, ranks: Sequence[int], *, exclude_self: bool, memory_budget: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact squared distance (float64) and index of the neighbour at each of ``ranks`` (1-based) per row.

        With δ the rounding bound of a row and a_r its r-th float32 candidate value, the exact r-th value
        lies within a_r ± δ, so candidates below a_r − 2δ are surely nearer and those above a_r + 2δ surely
        farther: only the window in between is re-measured exactly, and the r-th value is the one that
        ranks r − (number surely nearer) within it. A row is certified when points that lost the float32
        selection (exact distance ≥ the kc-th float32 value − δ) cannot come nearer than its largest
        requested rank; the rare uncertified rows are rescanned.
        """
        n, kc = self.indices.shape
        values, order = self.values.sort(dim=1)
        indices = self.indices.gather(1, order)
        approx = values.to(torch.float64)
        delta = rounding_bound(query.dim) * (query.norms.to(torch.float64) + float(ref.norms.max()))
        windows = [(approx - approx[:, r - 1 : r]).abs() <= 2 * delta[:, None] for r in ranks]
        rows, positions = torch.stack(windows).any(0).nonzero(as_tuple=True)
        exact = torch.full((n, kc), math.inf, dtype=torch.float64, device=indices.device)
        exact[rows, positions] = exact_sq_distances(
            query.exact, rows, ref.exact, indices[rows, positions], memory_budget
        )
        by_index = indices.argsort(dim=1)  # ties in distance go to the lower index
        columns_d2, columns_index = [], []
        for r, window in zip(ranks, windows):
            nearer = (approx < approx[:, r - 1 : r] - 2 * delta[:, None]).sum(1)
            candidates = torch.where(window, exact, math.inf).gather(1, by_index)
            pick = candidates.argsort(dim=1, stable=True).gather(1, (r - 1 - nearer)[:, None])
            columns_d2.append(candidates.gather(1, pick))
            columns_index.append(indices.gather(1, by_index).gather(1, pick))
        d2, found = torch.cat(columns_d2, 1), torch.cat(columns_index, 1)
        if kc < ref.n - int(exclude_self):
            floor = (approx[:, -1] - delta).clamp_min(0.0)
            uncertified = (d2.max(dim=1).values > floor).nonzero().squeeze(1)
            if uncertified.numel():
                all_d2, all_index = _rescan(query, ref, uncertified, d2[uncertified].max(dim=1).values,
                                            max(ranks), exclude_self, memory_budget)
                picked = torch.as_tensor([r - 1 for r in ranks], device=indices.device)
                d2[uncertified], found[uncertified] = all_d2[:, picked], all_index[:, picked]
        return d2, found


def _rescan(
    query: PointSet,
    ref: PointSet,
    rows: torch.Tensor,
    limit2: torch.Tensor,
    k: int,
    exclude_self: bool,
    memory_budget: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest for a few rows: every column whose float32 distance could lie within ``limit2``
    (an exact upper bound of the k-th distance) is re-measured exactly."""
    gamma = rounding_bound(query.dim)
    reach = limit2 + gamma * (query.norms[rows].to(torch.float64) + float(ref.norms.max()))
    threshold = (reach * (1 + 4 * UNIT_ROUNDOFF)).to(torch.float32)
    side = tile_side(memory_budget, query.dim)
    hit_rows, hit_cols = [], []
    for chunk in tile_slices(rows.numel(), side):
        picked = rows[chunk]
        work = query.work[picked]
        for cs in tile_slices(ref.n, side):
            near = matmul(work, column_form(ref.work[cs], ref.dim).T) <= threshold[chunk, None]
            if exclude_self:
                own = picked - cs.start
                inside = (own >= 0) & (own < cs.stop - cs.start)
                near[inside.nonzero().squeeze(1), own[inside]] = False
            r, c = near.nonzero(as_tuple=True)
            hit_rows.append(r + chunk.start)
            hit_cols.append(c + cs.start)
    r, c = torch.cat(hit_rows), torch.cat(hit_cols)
    d2 = exact_sq_distances(query.exact, rows[r], ref.exact, c, memory_budget)
    r_np, c_np, d_np = r.cpu().numpy(), c.cpu().numpy(), d2.cpu().numpy()
    order = np.lexsort((c_np, d_np, r_np))
    r_np, c_np, d_np = r_np[order], c_np[order], d_np[order]
    starts = np.searchsorted(r_np, np.arange(rows.numel()))
    take = (starts[:, None] + np.arange(k)[None, :]).reshape(-1)
    device = rows.device
    return (
        torch.from_numpy(d_np[take].reshape(-1, k)).to(device),
        torch.from_numpy(c_np[take].reshape(-1, k)).to(device),
    )


def self_knn(
    points: PointSet, ranks: Sequence[int], *, memory_budget: int, steps: Steps, stage: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact squared distances and indices of each point's neighbours at ``ranks`` (1-based) within its own
    set, the point itself excluded by index. Each unordered pair of tiles is computed once for both sides."""
    tiles = Tiles(points, points, memory_budget)
    candidates = Candidates(points.n, min(max(ranks) + CANDIDATE_MARGIN, points.n - 1), points.work.device)
    for i, j in tiles.pairs(symmetric=True):
        d = tiles.distances(i, j)
        rs, cs = tiles.row_slices[i], tiles.col_slices[j]
        if i == j:
            d.fill_diagonal_(math.inf)
        candidates.offer_tile(rs, d, cs.start, dim=1)
        if i != j:
            candidates.offer_tile(cs, d, rs.start, dim=0)
        steps(stage)
    tiles.release()
    return candidates.finish(points, points, ranks, exclude_self=True, memory_budget=memory_budget)


def self_tile_count(n: int, dim: int, memory_budget: int) -> int:
    blocks = len(tile_slices(n, tile_side(memory_budget, dim)))
    return blocks * (blocks + 1) // 2


def cross_tile_count(n_rows: int, n_cols: int, dim: int, memory_budget: int) -> int:
    side = tile_side(memory_budget, dim)
    return len(tile_slices(n_rows, side)) * len(tile_slices(n_cols, side))


def with_memory_backoff(compute: Callable[[int], object], memory_budget: int) -> object:
    """Run ``compute(budget)``, halving the budget on out-of-memory (results do not depend on it)."""
    budget = memory_budget
    while True:
        try:
            return compute(budget)
        except (RuntimeError, MemoryError) as error:
            if not (isinstance(error, MemoryError) or is_out_of_memory(error)) or budget // 2 < _MIN_BUDGET:
                raise
            budget //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a polynomial kernel, over subsets.

k(x, y) = (γ x·y + coef0)^degree with γ = 1/d by default (cubic: degree 3, coef0 1). Each of ``subsets``
random pairs of subsets (``subset_size`` real and generated rows drawn without replacement, seeded) gives
the unbiased estimate
    MMD² = (Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,
as in the MMD-GAN code that torch-fidelity and clean-fid adapt. ``mean`` and ``std`` (ddof 0) summarise
them like those references do.

Subsets are drawn in rounds: each round permutes both sets and cuts them into m' = ⌊N / subset_size⌋
disjoint pairs. Every subset is still a uniform draw without replacement, so ``mean`` is unbiased; and the
first round's m' pairs are independent, unbiased estimates, which give the interval mean ± t·sd/√m'
(conservative, since ``mean`` averages more subsets) at no extra cost. Needs m' ≥ 2.

Precision. MMD² is a small difference of kernel sums of order one (5e-5 against 2.2 for pixel features),
so products of raw float32 features bias it (measured: 2e-8 in every subset, 1 % of its spread). The
products are instead taken of features centred on the joint mean c, x·y = (x−c)·(y−c) + c·(x−c) + c·(y−c)
+ c·c, with only the centred product in float32 on the CPU (twice BLAS's float64 rate) and every other term
and every sum in float64: the error left is random in sign and ~1e-11. That is checked, not assumed: the
first subsets are recomputed in float64 (their float64 values are kept), and unless the largest difference
is below 1e-3 of the mean's spread (std/√subsets), every subset is recomputed in float64. CUDA devices run
float64 throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg.blas import dgemv, dsyrk, ssyrk

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .inputs import as_features, check_same_dim
from .intervals import Interval, disjoint_parts, t_interval
from .knn import DEFAULT_MEMORY_BUDGET, Steps, with_memory_backoff, working_budget
from .linalg import full_precision_matmul, matmul

RECHECKED = 3  # subsets recomputed in float64 to measure the float32 products' error
TOLERANCE = 1e-3  # largest float32 error accepted, as a fraction of the mean's spread


@dataclass(frozen=True)
class KernelDistance:
    mean: float
    std: float  # spread of the per-subset estimates (ddof 0, as torch-fidelity reports it)
    subsets: int
    subset_size: int
    values: np.ndarray  # (subsets,) MMD² of each random subset pair
    interval: Interval | None  # from the first round's disjoint subsets; None when fewer than two fit
    precision: str  # how the products were computed, and the float32 error measured where it was used


def _batch(subset_size: int, dim: int, memory_budget: int) -> int:
    """Subset pairs per batch: two gathered float64 subsets and two kernel matrices each."""
    return max(1, memory_budget // ((2 * subset_size * dim + 2 * subset_size * subset_size) * 8))


def _draw(n_real: int, n_fake: int, subsets: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(subsets, m) row indices into each set, in rounds of ⌊min(n_real, n_fake) / m⌋ disjoint pairs."""
    per_round = min(n_real, n_fake) // m
    real, fake = [], []
    for start in range(0, subsets, per_round):
        take = min(per_round, subsets - start)
        real.append(disjoint_parts(n_real, take, m, rng))
        fake.append(disjoint_parts(n_fake, take, m, rng))
    return np.concatenate(real), np.concatenate(fake)


def _mmd2_batched(
    real: torch.Tensor,
    fake: torch.Tensor,
    real_index: np.ndarray,
    fake_index: np.ndarray,
    kernel: tuple[int, float, float],
    memory_budget: int,
    steps: Steps,
) -> np.ndarray:
    """Unbiased MMD² of each subset pair on a GPU, in float64, batched within the memory budget."""
    degree, gamma, coef0 = kernel
    count, m = real_index.shape
    batch = _batch(m, real.shape[1], memory_budget)
    out = []
    for start in range(0, count, batch):
        x = real[torch.as_tensor(real_index[start : start + batch], device=real.device)].to(torch.float64)
        y = fake[torch.as_tensor(fake_index[start : start + batch], device=fake.device)].to(torch.float64)

        def kernel_sums(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            k = matmul(a, b.transpose(1, 2)).mul_(gamma).add_(coef0).pow_(degree)
            return k.sum((1, 2)), k.diagonal(dim1=1, dim2=2).sum(1)

        xx, xx_diag = kernel_sums(x, x)
        yy, yy_diag = kernel_sums(y, y)
        xy, _ = kernel_sums(x, y)
        out.append((xx - xx_diag + yy - yy_diag) / (m * (m - 1)) - 2 * xy / (m * m))
        steps("KID subsets")
    return torch.cat(out).cpu().numpy()


class _CentredPairs:
    """The CPU's MMD² of one subset pair from products of rows centred on the joint mean (see above).

    Both subsets are stacked into one matrix Z = [x; y] − c, so a single rank-k update Z Zᵀ gives x xᵀ,
    y yᵀ and x yᵀ at once (the upper triangle: each unordered pair once). The kernel sums then run over
    that triangle in row blocks that stay in cache, in float64. All products go through SciPy's BLAS:
    NumPy ships a second OpenBLAS, and on few cores alternating between the two (or torch's OpenMP pool)
    doubles every call while the other's threads spin."""

    BLOCK = 32  # rows of the triangle per step: two float64 scratch blocks of BLOCK × 2m fit a core's L2

    def __init__(self, real: np.ndarray, fake: np.ndarray, kernel: tuple[int, float, float]) -> None:
        self.real, self.fake = real, fake
        self._buffers: dict[str, np.ndarray] = {}
        self.degree, self.gamma, coef0 = kernel
        rows = len(real) + len(fake)
        centre = (real.sum(0, dtype=np.float64) + fake.sum(0, dtype=np.float64)) / rows
        self.centre = centre.astype(real.dtype)  # the identity holds for any centre: one in the rows' precision
        centre64 = self.centre.astype(np.float64)
        constant = (coef0 - self.gamma * float(centre64 @ centre64)) / 2
        self.real_offset, self.fake_offset = (self._offsets(x, centre64, constant) for x in (real, fake))

    def _offsets(self, features: np.ndarray, centre: np.ndarray, constant: float) -> np.ndarray:
        """γ·c·(x − c) + (γ·c·c + coef0)/2 = γ·c·x + (coef0 − γ·c·c)/2 for every row, in float64: the
        kernel's argument is γ·(x − c)·(y − c) plus the offsets of x and of y."""
        out = np.empty(len(features))
        for start in range(0, len(features), 4096):
            rows = features[start : start + 4096].astype(np.float64, copy=False)
            out[start : start + 4096] = dgemv(self.gamma, rows.T, centre, trans=1) + constant  # no layout copy
        return out

    def mmd2(self, real_rows: np.ndarray, fake_rows: np.ndarray, dtype: type) -> float:
        m = len(real_rows)
        rows_dtype = np.promote_types(self.real.dtype, dtype)
        stacked = self._buffer(f"stacked {rows_dtype}", (2 * m, self.real.shape[1]), rows_dtype)
        self._centred(self.real, real_rows, stacked[:m])
        self._centred(self.fake, fake_rows, stacked[m:])
        stacked = stacked.astype(dtype, copy=False)
        rank_k = ssyrk if dtype == np.float32 else dsyrk
        products = self._buffer(f"products {np.dtype(dtype)}", (2 * m, 2 * m), dtype, order="F")
        products = rank_k(self.gamma, stacked.T, trans=1, lower=1, c=products, overwrite_c=1)  # γ Z Zᵀ, lower
        offsets = np.concatenate([self.real_offset[real_rows], self.fake_offset[fake_rows]])
        within, across = self._triangle_sums(products.T, offsets, m)  # the transpose: upper, row-major
        return within / (m * (m - 1)) - 2.0 * across / (m * m)

    def _centred(self, features: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        """The rows minus the centre into ``out``: exactly, in float64 (float32 values differ exactly
        there); rounded once, in float32 (float32 arithmetic for float32 features)."""
        np.subtract(features[rows], self.centre, out=out, dtype=out.dtype)  # NumPy's take(out=) is 3x slower

    def _triangle_sums(self, products: np.ndarray, offsets: np.ndarray, m: int) -> tuple[float, float]:
        """Σ k over the strict upper triangle of the 2m × 2m products γ Z Zᵀ, in float64: within the two
        sets (x–x and y–y pairs), and across them (x–y pairs)."""
        within = across = 0.0
        width = 2 * m
        argument = self._buffer("argument", (self.BLOCK, width), np.float64)
        kernel = self._buffer("kernel", (self.BLOCK, width), np.float64)
        below = ~np.triu(np.ones((self.BLOCK, self.BLOCK), dtype=bool), 1)  # the diagonal and below it
        for start in (*range(0, m, self.BLOCK), *range(m, width, self.BLOCK)):
            stop = min(start + self.BLOCK, m if start < m else width)
            rows, columns = stop - start, width - start
            a = argument[:rows, :columns]
            np.add(products[start:stop, start:], offsets[None, start:], out=a)
            a += offsets[start:stop, None]
            a[:, :rows][below[:rows, :rows]] = 0.0  # not pairs of the triangle: the kernel of 0 is 0
            k = kernel[:rows, :columns]
            if self.degree == 1:
                np.copyto(k, a)
            else:
                np.multiply(a, a, out=k)
            for _ in range(self.degree - 2):  # repeated products: np.power is 5x slower
                k *= a
            if start < m:
                within += float(k[:, : m - start].sum())
                across += float(k[:, m - start :].sum())
            else:
                within += float(k.sum())
        return 2.0 * within, across

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: type, order: str = "C") -> np.ndarray:
        """Scratch arrays kept between subsets (fresh ones cost page faults on every call), zeroed once: the
        products' upper triangle, which the rank-k update never writes, stays finite."""
        out = self._buffers.get(name)
        if out is None or out.shape != shape or out.dtype != dtype:
            out = self._buffers[name] = np.zeros(shape, dtype, order=order)
        return out


def _mmd2_cpu(
    pairs: _CentredPairs, real_index: np.ndarray, fake_index: np.ndarray, steps: Steps
) -> tuple[np.ndarray, str]:
    """Every subset pair with float32 products, then the float64 recheck (see above); returns how it went.
    No more subsets than the recheck takes: float64 from the start."""
    count = len(real_index)
    values = np.empty(count)
    for s in range(count):
        values[s] = pairs.mmd2(real_index[s], fake_index[s], np.float32 if count > RECHECKED else np.float64)
        steps("KID subsets")
    if count <= RECHECKED:
        return values, "float64"
    exact = np.array([pairs.mmd2(real_index[s], fake_index[s], np.float64) for s in range(RECHECKED)])
    error = float(np.abs(values[:RECHECKED] - exact).max())
    values[:RECHECKED] = exact
    allowed = TOLERANCE * float(values.std()) / np.sqrt(count)
    if error <= allowed:
        return values, (f"float32 products of centred features, float64 sums; {RECHECKED} of {count} subsets "
                        f"recomputed in float64 differ by at most {error:.1e} (allowed {allowed:.1e})")
    for s in range(RECHECKED, count):
        steps.progress.check()
        values[s] = pairs.mmd2(real_index[s], fake_index[s], np.float64)
    return values, (f"float64: float32 products of centred features differed by {error:.1e} on {RECHECKED} "
                    f"subsets, over the {allowed:.1e} allowed, so every subset was recomputed")


@torch.inference_mode()
def kid(
    real: Any,
    fake: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
    *,
    level: float = 0.95,
    device: str | torch.device = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Progress | None = None,
) -> KernelDistance:
    """KID as mean ± std over seeded random subsets, with an interval from disjoint subsets (see above).

    ``subset_size`` shrinks to the smaller set's size when a set is smaller (reported in the result). When
    it equals both sets' sizes every subset pair is the two whole sets: MMD² is computed once, in float64,
    and the ``subsets`` values are that one value (std 0).
    """
    where = resolve_device(device)
    real_t = as_features(real, "real features", where, min_rows=2)
    fake_t = as_features(fake, "generated features", where, min_rows=2)
    check_same_dim(real_t, fake_t)
    if subsets < 1 or subset_size < 2 or degree < 1:
        raise MetricError(f"KID needs subsets ≥ 1, subset_size ≥ 2 and degree ≥ 1, got {subsets}, {subset_size} "
                          f"and {degree}")
    n_real, n_fake = real_t.shape[0], fake_t.shape[0]
    m = min(subset_size, n_real, n_fake)
    kernel = (degree, 1.0 / real_t.shape[1] if gamma is None else gamma, coef0)
    drawn = 1 if m == n_real == n_fake else subsets  # then every subset pair is the two whole sets: one will do
    real_index, fake_index = _draw(n_real, n_fake, drawn, m, np.random.default_rng(seed))
    progress = progress or null_progress()

    if where.type == "cpu":
        pairs = _CentredPairs(real_t.numpy(), fake_t.numpy(), kernel)
        values, precision = _mmd2_cpu(pairs, real_index, fake_index, Steps(progress, drawn))
    else:

        def compute(budget: int) -> np.ndarray:
            budget = working_budget(budget, where)
            steps = Steps(progress, -(-drawn // _batch(m, real_t.shape[1], budget)))
            return _mmd2_batched(real_t, fake_t, real_index, fake_index, kernel, budget, steps)

        with full_precision_matmul():
            values, precision = with_memory_backoff(compute, memory_budget), "float64"
    values = np.resize(values, subsets)
    mean = float(values.mean())
    parts = min(subsets, min(n_real, n_fake) // m)
    interval = t_interval(mean, values[:parts], level,
                          f"half-width from {parts} disjoint subset pairs of {m} (independent, unbiased)")
    return KernelDistance(mean=mean, std=float(values.std()), subsets=subsets, subset_size=m, values=values,
                          interval=interval, precision=precision)

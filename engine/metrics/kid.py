"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a polynomial kernel, over subsets.

k(x, y) = (γ x·y + coef0)^degree with γ = 1/d by default (cubic: degree 3, coef0 1). Each of ``subsets``
random pairs of subsets (``subset_size`` real and generated rows drawn without replacement, seeded) gives
the unbiased estimate
    MMD² = (Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,
as in the MMD-GAN code that torch-fidelity and clean-fid adapt. ``mean`` and ``std`` (ddof 0) summarise
them like those references do. The kernels are computed in float64.

The random subsets overlap, so their spread says little about the uncertainty of ``mean``. The interval
instead uses m' = ⌊N / subset_size⌋ disjoint subsets, whose estimates are independent and unbiased:
mean ± t·sd/√m'. That is conservative, since ``mean`` averages more subsets. Needs m' ≥ 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg.blas import dsyrk

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .inputs import as_features, check_same_dim
from .intervals import Interval, disjoint_parts, t_interval
from .knn import DEFAULT_MEMORY_BUDGET, Steps, with_memory_backoff, working_budget
from .linalg import full_precision_matmul, matmul


@dataclass(frozen=True)
class KernelDistance:
    mean: float
    std: float  # spread of the per-subset estimates (ddof 0, as torch-fidelity reports it)
    subsets: int
    subset_size: int
    values: np.ndarray  # (subsets,) MMD² of each random subset pair
    interval: Interval | None  # from disjoint subsets; None when fewer than two fit


def _batch(subset_size: int, dim: int, memory_budget: int) -> int:
    """Subset pairs per batch: two gathered float64 subsets and two kernel matrices each."""
    return max(1, memory_budget // ((2 * subset_size * dim + 2 * subset_size * subset_size) * 8))


def _mmd2(
    real: torch.Tensor,
    fake: torch.Tensor,
    real_index: np.ndarray,
    fake_index: np.ndarray,
    kernel: tuple[int, float, float],
    memory_budget: int,
    steps: Steps,
) -> np.ndarray:
    """Unbiased MMD² of each subset pair (rows of the index arrays), batched within the memory budget."""
    if real.device.type == "cpu":
        return _mmd2_cpu(real.numpy(), fake.numpy(), real_index, fake_index, kernel, steps)
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


def _mmd2_cpu(
    real: np.ndarray,
    fake: np.ndarray,
    real_index: np.ndarray,
    fake_index: np.ndarray,
    kernel: tuple[int, float, float],
    steps: Steps,
) -> np.ndarray:
    """The CPU path, one subset pair at a time: a set's kernel with itself is symmetric, so BLAS's rank-k
    update computes its upper triangle alone (half the products of a full matrix product), in float64."""
    degree, gamma, coef0 = kernel
    count, m = real_index.shape
    at_zero = coef0**degree  # the kernel of the zeros the rank-k update leaves below the diagonal

    def kernel_sums(g: np.ndarray) -> tuple[float, float]:
        """Sum and trace of the kernel of a product, applied in place (torch's elementwise ops: threaded)."""
        k = torch.from_numpy(g).mul_(gamma).add_(coef0).pow_(degree)
        return float(k.sum()), float(k.diagonal().sum())

    def off_diagonal_sum(x: np.ndarray) -> float:
        total, diagonal = kernel_sums(dsyrk(1.0, x.T, trans=1))  # x xᵀ: upper triangle, zeros below
        return 2.0 * (total - at_zero * (m * (m - 1) // 2) - diagonal)

    out = np.empty(count)
    for s in range(count):
        x = real[real_index[s]].astype(np.float64)
        y = fake[fake_index[s]].astype(np.float64)
        xy, _ = kernel_sums(x @ y.T)
        out[s] = (off_diagonal_sum(x) + off_diagonal_sum(y)) / (m * (m - 1)) - 2 * xy / (m * m)
        steps("KID subsets")
    return out


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

    ``subset_size`` shrinks to the smaller set's size when a set is smaller (reported in the result).
    """
    where = resolve_device(device)
    real_t = as_features(real, "real features", where, min_rows=2)
    fake_t = as_features(fake, "generated features", where, min_rows=2)
    check_same_dim(real_t, fake_t)
    if subsets < 1 or subset_size < 2:
        raise MetricError(f"KID needs subsets ≥ 1 and subset_size ≥ 2, got {subsets} and {subset_size}")
    n_real, n_fake = real_t.shape[0], fake_t.shape[0]
    m = min(subset_size, n_real, n_fake)
    kernel = (degree, 1.0 / real_t.shape[1] if gamma is None else gamma, coef0)
    rng = np.random.default_rng(seed)
    real_index = np.empty((subsets, m), dtype=np.int64)
    fake_index = np.empty((subsets, m), dtype=np.int64)
    for s in range(subsets):
        real_index[s] = rng.choice(n_real, m, replace=False)
        fake_index[s] = rng.choice(n_fake, m, replace=False)
    parts = min(n_real, n_fake) // m
    disjoint_real = disjoint_parts(n_real, parts, m, rng)
    disjoint_fake = disjoint_parts(n_fake, parts, m, rng)
    progress = progress or null_progress()

    def compute(budget: int) -> tuple[np.ndarray, np.ndarray | None]:
        budget = working_budget(budget, where)
        batch = 1 if where.type == "cpu" else _batch(m, real_t.shape[1], budget)  # the CPU runs one at a time
        steps = Steps(progress, -(-subsets // batch) + (-(-parts // batch) if parts >= 2 else 0))
        values = _mmd2(real_t, fake_t, real_index, fake_index, kernel, budget, steps)
        if parts < 2:
            return values, None
        return values, _mmd2(real_t, fake_t, disjoint_real, disjoint_fake, kernel, budget, steps)

    with full_precision_matmul():
        values, disjoint = with_memory_backoff(compute, memory_budget)
    mean = float(values.mean())
    interval = None
    if disjoint is not None:
        interval = t_interval(
            mean, disjoint, level, f"half-width from {parts} disjoint subset pairs of {m} (independent, unbiased)"
        )
    return KernelDistance(
        mean=mean, std=float(values.std()), subsets=subsets, subset_size=m, values=values, interval=interval
    )

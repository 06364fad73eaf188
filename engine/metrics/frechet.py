"""Fréchet distance between Gaussians fitted to two feature sets (FID when the features are Inception's).

FD = ‖μ1 − μ2‖² + tr C1 + tr C2 − 2 tr √(C1^½ C2 C1^½), everything in float64: means and covariances are
accumulated in chunks around the mean, and float32 in either step costs up to 5e-3 relative error. The
trace of the square root is Σ √λ over the eigenvalues of a symmetric positive semi-definite matrix with
the spectrum of C1^½ C2 C1^½: Lᵀ C2 L with L the Cholesky factor of C1 (or of C2) when one is positive
definite, else Wᵀ C2 W with W = V Λ^½ from the symmetric eigendecomposition of C1. Eigenvalues below the
rounding floor d·ε·λ_max count as 0 (their square roots would add √ε-sized noise per null direction).
When a set has fewer rows than dimensions (179 held-out images of 3×32×32 pixels), the covariances are
low-rank and the same number comes cheaper from the rows: with A = X1cᵀ/√(n1−1), B = X2cᵀ/√(n2−1) (centred
rows), the non-zero eigenvalues of C1^½ C2 C1^½ are those of (AᵀB)ᵀ(AᵀB), so tr √(·) is the sum of the
singular values of the n1×n2 matrix AᵀB, and tr C1 = ‖A‖²_F: no d×d matrix at all.
Never scipy.linalg.sqrtm: it is slow (a Schur form of a non-symmetric matrix), needs complex round-off
cleaning, and the ``disp`` argument that pytorch-fid passes is gone from SciPy 1.18. The value is finite
and real for singular covariances too.

FID is biased upwards by about c/N (c ≈ 16000 at d = 2048 for Inception features): values compare only at
equal sample sizes, so the result carries n_real and n_fake. With ``subsets=m`` (m ≥ 2) both sets are
split into m disjoint random parts whose m FIDs at N/m give
- ``interval``: FID_N ± t·sd/√m, the spread of FID at this N assuming it shrinks like 1/√N (true while
  the distributions differ; when they are equal it shrinks faster and the interval is conservative);
- ``value_infinity``: the bias-extrapolated FID_∞ = (m·FID_N − mean FID_{N/m}) / (m − 1), from
  FID_N ≈ FID_∞ + b/N (Chong & Forsyth 2020, "Effectively unbiased FID").
No bootstrap: resampling with replacement adds duplicates and moves FID's bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .inputs import as_features, check_same_dim
from .intervals import Interval, t_interval
from .knn import DEFAULT_MEMORY_BUDGET, Steps
from .linalg import cholesky, eigh, eigvalsh, full_precision_matmul, matmul

Moments = tuple[torch.Tensor, torch.Tensor]  # mean (d,), covariance (d, d), float64


@dataclass(frozen=True)
class FeatureStatistics:
    mean: np.ndarray  # (d,) float64
    cov: np.ndarray  # (d, d) float64, unbiased (ddof = 1)
    n: int


@dataclass(frozen=True)
class FrechetDistance:
    value: float  # FD at these sample sizes
    n_real: int
    n_fake: int
    dim: int
    value_infinity: float | None  # bias-extrapolated to N → ∞ (with subsets)
    interval: Interval | None  # for FD at this N (with subsets)
    subset_values: np.ndarray | None  # the m FDs of disjoint parts (with subsets)


def _part_moments(
    x: torch.Tensor, parts: list[np.ndarray] | None, memory_budget: int
) -> tuple[Moments, list[Moments]]:
    """Mean and covariance of all of ``x`` and of each part (index arrays covering all rows), in one pass.

    Sums are taken around the first chunk's mean, close enough to the mean that the final correction
    n·(μ − c)(μ − c)ᵀ cancels nothing of significance."""
    n, dim = x.shape
    rows = max(1, memory_budget // (dim * 8 * 2))  # few, tall chunks: the products run fastest that way
    centre = None
    sums, crosses, counts = [], [], []
    for part in parts if parts is not None else [None]:
        index = None if part is None else torch.as_tensor(part, device=x.device)
        count = n if index is None else index.numel()
        total = torch.zeros(dim, dtype=torch.float64, device=x.device)
        cross = torch.zeros(dim, dim, dtype=torch.float64, device=x.device)
        for s in range(0, count, rows):
            chunk = x[s : s + rows] if index is None else x[index[s : s + rows]]
            centred = chunk.to(torch.float64, copy=True)
            if centre is None:
                centre = centred.mean(0)
            centred -= centre
            total += centred.sum(0)
            cross += matmul(centred.T, centred)
        sums.append(total)
        crosses.append(cross)
        counts.append(count)

    def moments(total: torch.Tensor, cross: torch.Tensor, count: int) -> Moments:
        return centre + total / count, (cross - torch.outer(total, total) / count) / (count - 1)

    full = moments(sum(sums), sum(crosses), n)
    return full, [moments(t, c, m) for t, c, m in zip(sums, crosses, counts)] if parts is not None else []


def _numerically_psd(values: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a PSD matrix, those below its rounding floor d·ε·λ_max set to 0."""
    floor = values.shape[0] * torch.finfo(values.dtype).eps * float(values.abs().max())
    return torch.where(values > floor, values, 0.0)


def _trace_sqrt_product(c1: torch.Tensor, c2: torch.Tensor) -> float:
    """tr √(C1^½ C2 C1^½) from a symmetric matrix with the same eigenvalues."""
    for a, b in ((c1, c2), (c2, c1)):
        factor = cholesky(a)
        if factor is not None:
            break
    else:
        values, vectors = eigh(c1)
        factor, b = vectors * _numerically_psd(values).sqrt(), c2
    product = matmul(matmul(factor.T.contiguous(), b), factor)
    product = (product + product.T) / 2
    return float(_numerically_psd(eigvalsh(product)).sqrt().sum())


def _rows_are_cheaper(n1: int, n2: int, dim: int) -> bool:
    """The row form's n1·n2·(d + min n) flops against the covariance form's d³-order eigendecompositions."""
    return n1 * n2 * (dim + min(n1, n2)) < dim**3


def _frechet_from_rows(x1: torch.Tensor, x2: torch.Tensor) -> float:
    """FD from the feature rows themselves (exact; see the module note), for sets with fewer rows than d."""
    a, b = x1.to(torch.float64), x2.to(torch.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    a, b = (a - mu1) / (a.shape[0] - 1) ** 0.5, (b - mu2) / (b.shape[0] - 1) ** 0.5
    trace_sqrt = float(torch.linalg.svdvals(matmul(a, b.T)).sum())
    value = float((mu1 - mu2).square().sum() + a.square().sum() + b.square().sum()) - 2 * trace_sqrt
    return max(value, 0.0)


def _frechet_by_rows(real: torch.Tensor, fake: torch.Tensor, real_parts: list[np.ndarray] | None,
                     fake_parts: list[np.ndarray] | None, steps: Steps) -> tuple[float, list[float]]:
    """FD of the full sets and of each pair of parts, from the rows."""
    value = _frechet_from_rows(real, fake)
    steps("Fréchet distance")
    values = []
    for a, b in zip(real_parts or [], fake_parts or []):
        values.append(_frechet_from_rows(real[torch.as_tensor(a, device=real.device)],
                                         fake[torch.as_tensor(b, device=fake.device)]))
        steps("Fréchet distance of subsets")
    return value, values


def _frechet_by_moments(real: torch.Tensor, fake: torch.Tensor, real_parts: list[np.ndarray] | None,
                        fake_parts: list[np.ndarray] | None, memory_budget: int, steps: Steps) -> tuple[float, list[float]]:
    """FD of the full sets and of each pair of parts, from their means and covariances."""
    real_full, real_moments = _part_moments(real, real_parts, memory_budget)
    steps("statistics")
    fake_full, fake_moments = _part_moments(fake, fake_parts, memory_budget)
    steps("statistics")
    value = _frechet(real_full, fake_full)
    steps("Fréchet distance")
    values = []
    for a, b in zip(real_moments, fake_moments):
        values.append(_frechet(a, b))
        steps("Fréchet distance of subsets")
    return value, values


def _frechet(a: Moments, b: Moments) -> float:
    (mu1, c1), (mu2, c2) = a, b
    value = float((mu1 - mu2).square().sum() + c1.trace() + c2.trace()) - 2 * _trace_sqrt_product(c1, c2)
    return max(value, 0.0)


@torch.inference_mode()
def feature_statistics(
    features: Any, *, device: str | torch.device = "auto", memory_budget: int = DEFAULT_MEMORY_BUDGET
) -> FeatureStatistics:
    """Mean and unbiased covariance in float64 (e.g. to cache a reference set's statistics)."""
    x = as_features(features, "features", resolve_device(device), min_rows=2)
    (mean, cov), _ = _part_moments(x, None, memory_budget)
    return FeatureStatistics(mean=mean.cpu().numpy(), cov=cov.cpu().numpy(), n=int(x.shape[0]))


@torch.inference_mode()
def frechet_distance_from_statistics(
    a: FeatureStatistics, b: FeatureStatistics, *, device: str | torch.device = "auto"
) -> float:
    """FD between two fitted Gaussians."""
    if a.mean.shape != b.mean.shape:
        raise MetricError(f"statistics differ in dimension: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    where = resolve_device(device)

    def moments(s: FeatureStatistics) -> Moments:
        return (torch.as_tensor(s.mean, dtype=torch.float64, device=where),
                torch.as_tensor(s.cov, dtype=torch.float64, device=where))

    with full_precision_matmul():
        return _frechet(moments(a), moments(b))


@torch.inference_mode()
def frechet_distance(
    real: Any,
    fake: Any,
    *,
    subsets: int = 0,
    level: float = 0.95,
    seed: int = 0,
    device: str | torch.device = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Progress | None = None,
) -> FrechetDistance:
    """FD between the Gaussians of two feature sets; ``subsets=m ≥ 2`` adds an interval and FID_∞ (see above)."""
    where = resolve_device(device)
    real_t = as_features(real, "real features", where, min_rows=2)
    fake_t = as_features(fake, "generated features", where, min_rows=2)
    check_same_dim(real_t, fake_t)
    if subsets == 1 or subsets < 0:
        raise MetricError(f"subsets must be 0 (no interval) or at least 2, got {subsets}")
    smallest = min(real_t.shape[0], fake_t.shape[0])
    if subsets and smallest < 2 * subsets:
        raise MetricError(f"{subsets} subsets need at least {2 * subsets} samples per set, got {smallest}")
    by_rows = _rows_are_cheaper(real_t.shape[0], fake_t.shape[0], real_t.shape[1])  # the parts are smaller still
    steps = Steps(progress or null_progress(), (1 if by_rows else 3) + subsets)
    rng = np.random.default_rng(seed)
    real_parts, fake_parts = (np.array_split(rng.permutation(t.shape[0]), subsets) if subsets else None
                              for t in (real_t, fake_t))
    with full_precision_matmul():
        if by_rows:
            value, values = _frechet_by_rows(real_t, fake_t, real_parts, fake_parts, steps)
        else:
            value, values = _frechet_by_moments(real_t, fake_t, real_parts, fake_parts, memory_budget, steps)
    subset_values = np.array(values) if subsets else None
    return FrechetDistance(
        value=value,
        n_real=int(real_t.shape[0]),
        n_fake=int(fake_t.shape[0]),
        dim=int(real_t.shape[1]),
        value_infinity=float((subsets * value - subset_values.mean()) / (subsets - 1)) if subsets else None,
        interval=t_interval(
            value,
            subset_values,
            level,
            f"FD of {subsets} disjoint random subsets (N/{subsets} each), spread scaled by 1/sqrt({subsets}) to N",
        )
        if subsets
        else None,
        subset_values=subset_values,
    )

"""Fréchet distance between Gaussians fitted to two feature sets (FID when the features are Inception's).

FD = ‖μ1 − μ2‖² + tr C1 + tr C2 − 2 tr √(C1^½ C2 C1^½), everything in float64: means and covariances are
accumulated in chunks around the mean, and float32 in either step costs up to 5e-3 relative error. The
trace of the square root is Σ √λ over the eigenvalues of a symmetric positive semi-definite matrix with
the spectrum of C1^½ C2 C1^½: Fᵀ C2 F with C1 = F Fᵀ, F the Cholesky factor of C1, or when C1 is singular
a rank-revealing factor (pivoted Cholesky on the CPU, the eigendecomposition on a GPU) that drops the
directions below its rounding floor; eigenvalues of the product below d·ε·λ_max count as 0 too (their
square roots would add √ε-sized noise per null direction: with singular covariances the value is defined
to about √ε·√λ_max per such direction).
A set with no more rows than dimensions (n ≤ d) keeps its centred rows F = (X − μ)/√(n − 1) instead of a
covariance, C = FᵀF: C1 C2 has the non-zero eigenvalues of F1 C2 F1ᵀ, or of M Mᵀ with M = F1 F2ᵀ when both
sets are thin, so the eigenvalue problem shrinks from d × d to n × n (the subsets behind the interval
usually are thin).
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

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .inputs import as_features, check_same_dim
from .intervals import Interval, t_interval
from .knn import DEFAULT_MEMORY_BUDGET, Steps, working_budget
from .linalg import above_rounding_floor, eigvalsh, full_precision_matmul, matmul, psd_factor

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
    rows = max(1, working_budget(memory_budget, x.device) // (dim * 8 * 2))  # a float64 chunk and its centred copy
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


@dataclass(frozen=True)
class _Gaussian:
    """A fitted Gaussian: the covariance either as a d × d matrix or, for n ≤ d rows, as thin factor rows."""

    mean: torch.Tensor  # (d,) float64
    trace: float  # tr C
    cov: torch.Tensor | None = None  # (d, d) float64
    thin: torch.Tensor | None = None  # (n, d) float64, C = thinᵀ thin

    @classmethod
    def from_moments(cls, moments: Moments) -> "_Gaussian":
        mean, cov = moments
        return cls(mean, float(cov.trace()), cov=cov)

    @classmethod
    def from_rows(cls, rows: torch.Tensor) -> "_Gaussian":
        x = rows.to(torch.float64)
        mean = x.mean(0)
        thin = (x - mean).div_(float(x.shape[0] - 1) ** 0.5)
        return cls(mean, float(thin.square().sum()), thin=thin)


def _fit(
    x: torch.Tensor, parts: list[np.ndarray] | None, memory_budget: int
) -> tuple[_Gaussian, list[Callable[[], _Gaussian]]]:
    """The Gaussian of all of ``x``, and one fit per part to call when its turn comes: when every part has
    more rows than dimensions one pass gives every covariance; thin parts (n ≤ d) are fitted one at a time,
    since together they would hold a float64 copy of the whole set."""
    n, dim = x.shape
    index = [torch.as_tensor(part, device=x.device) for part in parts] if parts is not None else []
    if n > dim and all(i.numel() > dim for i in index):
        full, fitted = _part_moments(x, parts, memory_budget)
        return _Gaussian.from_moments(full), [partial(_Gaussian.from_moments, m) for m in fitted]

    def fit(rows: torch.Tensor) -> _Gaussian:
        if rows.shape[0] <= dim:
            return _Gaussian.from_rows(rows)
        return _Gaussian.from_moments(_part_moments(rows, None, memory_budget)[0])

    def fit_part(part: torch.Tensor) -> _Gaussian:
        return fit(x[part])

    return fit(x), [partial(fit_part, i) for i in index]


def _trace_sqrt_product(a: _Gaussian, b: _Gaussian) -> float:
    """tr √(C1^½ C2 C1^½) from a symmetric matrix with the same non-zero eigenvalues."""
    if a.thin is None and b.thin is not None:
        a, b = b, a
    if a.thin is not None and b.thin is not None:
        m = matmul(a.thin, b.thin.T.contiguous())
        product = matmul(m, m.T) if m.shape[0] <= m.shape[1] else matmul(m.T, m)  # one buffer: BLAS's rank-k update
    elif a.thin is not None:
        product = matmul(matmul(a.thin, b.cov), a.thin.T.contiguous())
    else:
        return _trace_sqrt_covariances(a.cov, b.cov)
    return _trace_sqrt(product)


def _trace_sqrt_covariances(c1: torch.Tensor, c2: torch.Tensor) -> float:
    """tr √(C1^½ C2 C1^½) for two d × d covariances: Σ √λ(Fᵀ C2 F) with C1 = F Fᵀ."""
    factor = psd_factor(c1)
    return _trace_sqrt(matmul(matmul(factor.T.contiguous(), c2), factor))


def _trace_sqrt(product: torch.Tensor) -> float:
    """Σ √λ over a symmetric PSD matrix's eigenvalues. Only its lower triangle is read, so the rounding
    asymmetry of a product Aᵀ B A needs no symmetrising pass."""
    values = eigvalsh(product)
    return float(torch.where(above_rounding_floor(values), values, 0.0).sqrt().sum())


def _frechet(a: _Gaussian, b: _Gaussian) -> float:
    value = float((a.mean - b.mean).square().sum()) + a.trace + b.trace - 2 * _trace_sqrt_product(a, b)
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

    def moments(s: FeatureStatistics) -> _Gaussian:
        return _Gaussian.from_moments((torch.as_tensor(s.mean, dtype=torch.float64, device=where),
                                       torch.as_tensor(s.cov, dtype=torch.float64, device=where)))

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
    steps = Steps(progress or null_progress(), 3 + subsets)
    rng = np.random.default_rng(seed)

    def parts(n: int) -> list[np.ndarray] | None:
        return np.array_split(rng.permutation(n), subsets) if subsets else None

    with full_precision_matmul():
        real_full, real_parts = _fit(real_t, parts(real_t.shape[0]), memory_budget)
        steps("statistics")
        fake_full, fake_parts = _fit(fake_t, parts(fake_t.shape[0]), memory_budget)
        steps("statistics")
        value = _frechet(real_full, fake_full)
        steps("Fréchet distance")
        values = []
        for fit_real, fit_fake in zip(real_parts, fake_parts):
            values.append(_frechet(fit_real(), fit_fake()))
            steps("Fréchet distance of subsets")
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

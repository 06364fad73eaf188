"""Confidence intervals that say what they cover.

Every interval carries its method in words. None is a naive bootstrap: resampling with replacement adds
duplicates, and for FID (bias ≈ c/N) the bootstrap distribution sits above the point estimate and can
exclude it. Intervals here come from disjoint subsets (independent estimates of the same statistic) or,
for proportions measured against a fixed manifold, from the binomial distribution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
from scipy.special import stdtrit  # the t quantile; scipy.stats costs 0.5 s to import


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def t_interval(centre: float, values: np.ndarray, level: float, method: str) -> Interval | None:
    """centre ± t·sd/√m from m independent estimates ``values`` of the statistic (None when m < 2)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return None
    half = float(stdtrit(values.size - 1, (1 + level) / 2) * values.std(ddof=1) / math.sqrt(values.size))
    return Interval(low=centre - half, high=centre + half, level=level, method=method)


def wilson_interval(successes: int, n: int, level: float, method: str) -> Interval:
    """Wilson score interval for a proportion of n independent trials."""
    z = NormalDist().inv_cdf((1 + level) / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(low=max(0.0, centre - half), high=min(1.0, centre + half), level=level, method=method)


def disjoint_parts(n: int, parts: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``parts`` disjoint random index sets of ``size`` drawn from range(n), as a (parts, size) array."""
    return rng.permutation(n)[: parts * size].reshape(parts, size)

"""Spearman's ρ between bits/dim and realism, with an interval: does the likelihood rank samples as quality does?

The interval is Fisher's z-transform with Fieller, Hartley & Pearson's (1957) standard error for Spearman's
ρ, 1.06 / √(n − 3): z = atanh(ρ) ± z_{α/2}·1.06/√(n − 3), mapped back with tanh. Checked against
scipy.stats.spearmanr for ρ itself.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

METHOD = "Fisher z interval, standard error 1.06/√(n−3) (Fieller et al. 1957)"


def spearman_interval(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> dict[str, Any] | None:
    """{'value', 'ci', 'method', 'n'} over the pairs where both are finite; None below 4 pairs or on a constant side."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    n = int(keep.sum())
    if n < 4:
        return None
    rx, ry = average_ranks(x[keep]), average_ranks(y[keep])
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    rho = float(np.corrcoef(rx, ry)[0, 1])
    half = NormalDist().inv_cdf((1 + level) / 2) * 1.06 / math.sqrt(n - 3)
    z = math.atanh(min(max(rho, -1 + 1e-15), 1 - 1e-15))
    return {"value": rho, "ci": [math.tanh(z - half), math.tanh(z + half)],
            "method": f"{level:.0%} interval, {METHOD}", "n": n}


def spearman_bpd_realism(columns: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The metrics entry ``spearman_bpd_realism`` for the samples (empty without both columns)."""
    if "bpd" not in columns or "realism" not in columns:
        return {}
    entry = spearman_interval(columns["bpd"], columns["realism"])
    if entry is None:
        return {}
    return {"spearman_bpd_realism": {**entry, "convention": "samples' bits/dim vs realism against the reference"}}


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (scipy.stats.rankdata's default; scipy.stats is slow to import)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]

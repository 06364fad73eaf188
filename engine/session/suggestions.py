"""The engine's proposals for the person to review: 'likely but bad' and 'memorized' samples.

Suggestions are only proposals: they are written as 'suggested' flags, which the person confirms
or removes by hand; they never become 'confirmed' on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Suggestions:
    label: str
    ids: np.ndarray  # sample indices, most suspicious first
    reasons: list[str]


def likely_but_bad(log_px: np.ndarray, realism: np.ndarray, top_fraction: float = 0.2) -> Suggestions:
    """Samples in the top ``top_fraction`` by log-likelihood that lie outside the real manifold.

    Outside means realism < 1: by Kynkäänniemi et al.'s realism score, the sample falls inside none of
    the real k-NN balls of at most median radius (the balls of isolated real outliers do not vouch for
    it). These are the samples the likelihood ranks high and the reference rejects.
    """
    if not 0 < top_fraction <= 1:
        raise ValueError("top_fraction must lie in (0, 1]")
    threshold = np.quantile(log_px, 1.0 - top_fraction)
    chosen = np.flatnonzero((log_px >= threshold) & (realism < 1.0))
    chosen = chosen[np.argsort(-log_px[chosen], kind="stable")]
    rank = _percentile_rank(log_px)
    reasons = [f"log-likelihood in the top {100 * (1 - rank[i]):.0f}% but realism {realism[i]:.2f} < 1" for i in chosen]
    return Suggestions("bad", chosen, reasons)


def memorized(nn_distance: np.ndarray, real_nn_distance: np.ndarray, quantile: float = 0.05) -> Suggestions:
    """Samples closer to their nearest real image than real images usually are to each other.

    ``real_nn_distance`` is each real image's distance to its nearest *other* real image; the scale
    is its ``quantile`` (default the 5th percentile): a generated sample nearer than that to a real
    image is more likely a copy than a new draw from the same distribution.
    """
    scale = float(np.quantile(real_nn_distance, quantile))
    chosen = np.flatnonzero(nn_distance < scale)
    chosen = chosen[np.argsort(nn_distance[chosen], kind="stable")]
    reasons = [f"nearest real image at {nn_distance[i]:.3g}, below the real set's {100 * quantile:.0f}th-percentile spacing {scale:.3g}" for i in chosen]
    return Suggestions("memorized", chosen, reasons)


def _percentile_rank(values: np.ndarray) -> np.ndarray:
    """Fraction of values at or below each value."""
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(values))
    rank[order] = np.arange(1, len(values) + 1) / len(values)
    return rank

"""The noise-mixture sweep (Theis et al. 2016) as a comparison: one likelihood model mixed with noise at several w.

q = (1 − w) p + w u satisfies log q(x) ≥ log(1 − w) + log p(x) for every image, so the held-out
log-likelihood falls by at most −ln(1 − w) nats per image (ln 100 ≈ 4.6 at w = 0.99) while a share
w of the samples is noise: precision collapses, the likelihood barely moves.
"""

from __future__ import annotations

import math
from typing import Sequence

from .evaluate import MemberSpec

NOISE_WEIGHTS = (0.0, 0.5, 0.9, 0.99)


def likelihood_bound(noise_weight: float) -> float:
    """The most held-out log-likelihood (nats per image) mixing in noise of weight w can cost: −ln(1 − w)."""
    return -math.log1p(-noise_weight)


def noise_sweep_specs(address: str, weights: Sequence[float] = NOISE_WEIGHTS, trust_code: bool = False) -> list[MemberSpec]:
    """The members of a sweep: the model itself (w = 0) and its mixtures with noise."""
    return [MemberSpec(address, float(w), trust_code) for w in weights]

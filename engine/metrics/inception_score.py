"""Inception Score (Salimans et al. 2016) from class logits.

IS = exp(E_x KL(p(y|x) ‖ p(y))), computed in float64 from log-softmax, on each of ``splits`` consecutive
parts (boundaries ⌊iN/splits⌋, as in the original code) with p(y) the part's mean prediction. ``mean`` and
``std`` (ddof 0) summarise the parts. IS depends on the part size, so compare it only at equal N/splits.
The parts are disjoint, so their values are independent estimates of that statistic: the interval is
mean ± t·sd/√splits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import MetricError
from .inputs import as_features
from .intervals import Interval, t_interval


@dataclass(frozen=True)
class InceptionScore:
    mean: float
    std: float
    splits: int
    values: np.ndarray  # (splits,) IS of each part
    interval: Interval | None


@torch.inference_mode()
def inception_score(logits: Any, splits: int = 10, *, level: float = 0.95) -> InceptionScore:
    """IS of (N, classes) logits (unnormalised log-probabilities), mean and std over ``splits`` parts."""
    log_p = torch.log_softmax(as_features(logits, "logits", torch.device("cpu")).to(torch.float64), dim=1)
    n = log_p.shape[0]
    if not 1 <= splits <= n:
        raise MetricError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    values = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = torch.logsumexp(part, dim=0) - math.log(part.shape[0])
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        values.append(math.exp(float(kl)))
    scores = np.array(values)
    mean = float(scores.mean())
    return InceptionScore(
        mean=mean,
        std=float(scores.std()),
        splits=splits,
        values=scores,
        interval=t_interval(mean, scores, level, f"t interval over {splits} disjoint parts of ~{n // splits} samples"),
    )

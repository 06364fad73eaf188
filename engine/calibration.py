"""Thresholds taken from held-out real images, so that a suggestion states how often it would flag real data.

A suggestion rule gives every image a score (realism, distance to the nearest training image, ...) and
flags the images whose score falls below a threshold. Held-out real images are scored exactly as the
samples are — against the same training images, with the same feature network — and the threshold is
the k-th smallest of their n scores with k = ⌊(n + 1)·α⌋. A fresh real image, exchangeable with the n
held-out ones, then scores below it with probability k / (n + 1) ≤ α (the split-conformal argument):
that number is the rule's stated false-flag rate. Given n held-out images, the share of real images the
threshold actually flags varies from one held-out draw to another as Beta(k, n + 1 − k): the spread
that says whether n is enough (``rate_spread``).

The reference that makes the rules sharp is the training split: a sample is scored against the k-NN
balls of the training images (1,438 of the digits; a denser manifold gives tighter balls than the
179-image test split) and the test split, disjoint from it, calibrates the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import betaincinv

from . import metrics as M
from .errors import MetricError
from .features import extract_features, get_extractor
from .progress import Progress

if TYPE_CHECKING:
    from .evaluation import Evaluation, EvaluationSettings

DEFAULT_FALSE_FLAG_RATE = 0.05
MANIFOLD = "training images"  # what samples and held-out images are scored against


@dataclass(frozen=True)
class Threshold:
    """A score below ``value`` is flagged; ``false_flag_rate`` is the share of real images expected below it."""

    value: float
    false_flag_rate: float
    n_real: int  # held-out real images that set (or measured) it
    calibrated: bool  # True: taken from the real scores for a target rate; False: given, its rate measured

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "false_flag_rate": self.false_flag_rate, "n_real": self.n_real,
                "set_by": "held-out real images" if self.calibrated else "given"}


def check_rate(rate: float) -> float:
    if not 0.0 < rate < 1.0:
        raise MetricError(f"the false-flag rate must lie strictly between 0 and 1, got {rate:g}")
    return float(rate)


def calibrated_below(real_scores: np.ndarray, rate: float) -> Threshold:
    """The threshold that flags a share ``rate`` (at most) of real images, from their held-out scores.

    Scores of +inf stand for images the rule never flags (a gate they fail); they still count in n.
    """
    rate = check_rate(rate)
    scores = np.sort(np.asarray(real_scores, dtype=np.float64))
    n = len(scores)
    k = int(np.floor((n + 1) * rate))
    if n == 0 or k == 0:  # too few real images to state the rate: flag nothing rather than guess
        return Threshold(value=-np.inf, false_flag_rate=0.0, n_real=n, calibrated=True)
    return Threshold(value=float(scores[k - 1]), false_flag_rate=k / (n + 1), n_real=n, calibrated=True)


def unresolved_text(threshold: Threshold) -> str | None:
    """Why a calibrated test flags nothing when its rate is below 1/(n+1) (None when it has a threshold)."""
    if threshold.value != -np.inf:
        return None
    return f"off: {threshold.n_real} held-out real images cannot resolve a rate this small"


def given_below(real_scores: np.ndarray, value: float) -> Threshold:
    """A threshold the person chose; its false-flag rate is the share of held-out real images below it."""
    scores = np.asarray(real_scores, dtype=np.float64)
    rate = float(np.mean(scores < value)) if len(scores) else float("nan")
    return Threshold(value=float(value), false_flag_rate=rate, n_real=len(scores), calibrated=False)


def rate_spread(n_real: int, rate: float, level: float = 0.9) -> tuple[float, float]:
    """Central ``level`` range of the share of real images a threshold from ``n_real`` held-out ones flags.

    The k-th smallest of n exchangeable scores leaves a Beta(k, n + 1 − k) share of the real distribution
    below it; its quantiles say how far one calibration can land from the stated rate.
    """
    k = int(np.floor((n_real + 1) * check_rate(rate)))
    if k == 0:
        return 0.0, 0.0
    tail = (1 - level) / 2
    return float(betaincinv(k, n_real + 1 - k, tail)), float(betaincinv(k, n_real + 1 - k, 1 - tail))


def score_against_training(result: "Evaluation", settings: "EvaluationSettings", device: Any,
                           progress: Progress) -> None:
    """Evaluation stage: score samples and held-out images the same way, against the training images.

    Adds ``realism_train`` (realism against the training images' k-NN balls) to the sample and the
    reference columns, and ``train_nn_distance`` (feature distance to the nearest training image) to the
    reference columns (the samples' comes from the feature stage). Reference images that are training
    images do not stand for fresh real images: when most of them are, nothing is added.
    """
    if result.training is None or len(result.training) <= settings.k_pr:
        return
    extractor = get_extractor(settings.features, **settings.feature_options)
    levels = result.levels

    def features(images: np.ndarray) -> np.ndarray:
        return extract_features(extractor, images, levels, device=device, progress=progress).features

    seen, real, fake = features(result.training), features(result.reference), features(result.samples)
    nearest = M.nearest_real(real, seen, k=1, device=device, memory_budget=settings.memory_budget)
    if np.mean(nearest.distances[:, 0] == 0) > 0.5:  # the reference is the training data: it calibrates nothing
        return
    scored = np.concatenate([real, fake])  # one pass: both sets meet exactly the same balls
    realism = M.precision_recall(seen, scored, k=settings.k_pr, device=device, memory_budget=settings.memory_budget,
                                 progress=progress).realism
    result.columns["reference"].update(realism_train=realism[: len(real)], train_nn_distance=nearest.distances[:, 0])
    result.columns["sample"].update(realism_train=realism[len(real):])

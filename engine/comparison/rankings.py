"""Rankings of models by likelihood and by each quality metric, Kendall's τ between them, discordant pairs.

The question GenLoupe asks of samples, asked of models: does the model the likelihood prefers also
make the better samples? Each metric is turned into a "goodness" (higher is better: −bits/dim,
−FID, precision, ...); two rankings agree on a pair of models when both goodnesses order it the
same way. τ is Kendall's τ-b (ties in either ranking shrink the denominator, as scipy's default);
a discordant pair is one the two rankings order in opposite ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .store import Member

LIKELIHOOD_METRIC = "bpd"  # held-out bits/dim
# quality metric -> which direction is better
QUALITY_METRICS = {"fid": "lower", "kid": "lower", "precision": "higher", "recall": "higher", "density": "higher",
                   "coverage": "higher", "is": "higher"}
BETTER = {LIKELIHOOD_METRIC: "lower", "train_bpd": "lower", "sample_bpd": "lower", **QUALITY_METRICS}


@dataclass(frozen=True)
class Ranking:
    """The likelihood's ranking and one quality metric's ranking of the same models, side by side."""

    metric: str
    members: tuple[int, ...]  # positions (in the member list) of the models both metrics score
    by_likelihood: tuple[int, ...]  # those positions, best first by held-out bits/dim
    by_quality: tuple[int, ...]  # best first by the quality metric
    tau: float  # Kendall's τ-b of the two goodnesses; nan with fewer than two models or a constant metric
    discordant: tuple[tuple[int, int], ...]  # (i, j): the likelihood prefers i, the quality metric prefers j


def goodness(values: Sequence[float], better: str) -> np.ndarray:
    """Values turned so that higher is better."""
    array = np.asarray(values, dtype=np.float64)
    return -array if better == "lower" else array


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's τ-b: (concordant − discordant) / sqrt((n0 − ties in a)(n0 − ties in b)) over all pairs."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) != len(b):
        raise ValueError("kendall_tau needs two sequences of one length")
    i, j = np.triu_indices(len(a), k=1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs = len(i)
    untied_a, untied_b = pairs - int((sa == 0).sum()), pairs - int((sb == 0).sum())
    if untied_a == 0 or untied_b == 0:
        return math.nan
    return float((sa * sb).sum() / math.sqrt(untied_a * untied_b))


def discordant_pairs(a: Sequence[float], b: Sequence[float]) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] > a[j] and b[i] < b[j]: a prefers i, b prefers j (ties are not discordant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    found = []
    for i in range(len(a)):
        for j in range(len(a)):
            if a[i] > a[j] and b[i] < b[j]:
                found.append((i, j))
    return found


def order(values: Sequence[float], better: str) -> list[int]:
    """Indices best first (stable for ties)."""
    return [int(i) for i in np.argsort(-goodness(values, better), kind="stable")]


def rank_members(members: Sequence[Member], metrics: Sequence[str] | None = None) -> dict[str, Ranking]:
    """One Ranking per quality metric that at least two members share with a finite held-out bits/dim."""
    rankings = {}
    for metric in metrics or QUALITY_METRICS:
        both = [k for k, member in enumerate(members) if _finite(member.value(LIKELIHOOD_METRIC))
                and _finite(member.value(metric))]
        if len(both) < 2:
            continue
        likelihood = goodness([members[k].value(LIKELIHOOD_METRIC) for k in both], "lower")
        quality = goodness([members[k].value(metric) for k in both], QUALITY_METRICS[metric])
        rankings[metric] = Ranking(
            metric=metric,
            members=tuple(both),
            by_likelihood=tuple(both[i] for i in order(likelihood, "higher")),
            by_quality=tuple(both[i] for i in order(quality, "higher")),
            tau=kendall_tau(likelihood, quality),
            discordant=tuple((both[i], both[j]) for i, j in discordant_pairs(likelihood, quality)),
        )
    return rankings


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)

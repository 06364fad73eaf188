"""Nearest real neighbours of generated samples (memorization check)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .inputs import as_features, check_same_dim
from .knn import (
    CANDIDATE_MARGIN,
    DEFAULT_MEMORY_BUDGET,
    Candidates,
    PointSet,
    Steps,
    Tiles,
    cross_tile_count,
    prepare_points,
    with_memory_backoff,
    working_budget,
)
from .linalg import full_precision_matmul


@dataclass(frozen=True)
class NearestReal:
    indices: np.ndarray  # (n_fake, k) int64 rows of the real set, nearest first
    distances: np.ndarray  # (n_fake, k) float64 Euclidean distances


def nearest_candidates(fake: PointSet, real: PointSet, k: int) -> Candidates:
    """Accumulator for the k nearest real points of each generated one (fed tile by tile)."""
    return Candidates(fake.n, min(k + CANDIDATE_MARGIN, real.n), fake.work.device)


def finish_nearest(candidates: Candidates, fake: PointSet, real: PointSet, k: int, memory_budget: int) -> NearestReal:
    d2, indices = candidates.finish(fake, real, range(1, k + 1), exclude_self=False, memory_budget=memory_budget)
    return NearestReal(indices=indices.cpu().numpy(), distances=d2.sqrt().cpu().numpy())


@torch.inference_mode()
def nearest_real(
    fake: Any,
    real: Any,
    k: int = 1,
    *,
    device: str | torch.device = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Progress | None = None,
) -> NearestReal:
    """The k nearest real samples of every generated sample, exactly, within ``memory_budget`` bytes."""
    where = resolve_device(device)
    fake_t = as_features(fake, "generated features", where)
    real_t = as_features(real, "real features", where)
    check_same_dim(real_t, fake_t)
    if not 1 <= k <= real_t.shape[0]:
        raise MetricError(f"k={k} nearest real samples requested from a real set of {real_t.shape[0]}")
    progress = progress or null_progress()

    def compute(budget: int) -> NearestReal:
        budget = working_budget(budget, where)
        fake_p, real_p = prepare_points([fake_t, real_t], budget)
        tiles = Tiles(fake_p, real_p, budget)
        steps = Steps(progress, cross_tile_count(fake_p.n, real_p.n, real_p.dim, budget))
        candidates = nearest_candidates(fake_p, real_p, k)
        for i, j in tiles.pairs():
            candidates.offer_tile(tiles.row_slices[i], tiles.distances(i, j), tiles.col_slices[j].start)
            steps("nearest real")
        tiles.release()
        return finish_nearest(candidates, fake_p, real_p, k, budget)

    with full_precision_matmul():
        return with_memory_backoff(compute, memory_budget)

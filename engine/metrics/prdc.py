"""Improved precision/recall with realism scores (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Definitions, from the papers. NND_k(φ) is the distance from φ to its k-th nearest neighbour in its own set
(φ itself excluded by index). The real manifold is the union of the balls B(φ_r, NND_k(φ_r)); the
generated manifold likewise.

- precision: the fraction of generated samples inside the real manifold; recall: the fraction of real
  samples inside the generated manifold (k=3 in the paper).
- realism of a generated φ_g: max over real φ_r of NND_k(φ_r) / ‖φ_g − φ_r‖, over the real samples whose
  radius is at most the median radius (the paper drops the larger half of the balls, which outliers
  inflate). It is ≥ 1 exactly when φ_g lies in a retained ball. Distances, not squared distances (the
  authors' code squares the ratio); a sample that coincides with a real one scores radius / ε with
  ε = 1e-6 × the median radius.
- density: (1 / kM) Σ_j Σ_i 1[φ_g,j ∈ B(φ_r,i, NND_k(φ_r,i))]; coverage: the fraction of real samples
  whose ball holds at least one generated sample (k=5 in the paper).

"Inside" is ‖φ − c‖ ≤ r by default (``comparison="<="``, the closed balls of Kynkäänniemi et al. and
their code); ``comparison="<"`` gives prdc's open balls, which hold nothing when duplicates make a radius 0.

Everything comes out of one tiled pass over real × generated pairs after one over each set's own pairs
(see knn.py): nothing of size N × N is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..device import resolve_device
from ..errors import MetricError
from ..progress import Progress, null_progress
from .balls import BallTest, check_comparison
from .inputs import as_features, check_k, check_same_dim
from .intervals import Interval, t_interval, wilson_interval
from .knn import (
    DEFAULT_MEMORY_BUDGET,
    PointSet,
    Steps,
    Tiles,
    cross_tile_count,
    exact_sq_distances,
    prepare_points,
    self_knn,
    self_tile_count,
    with_memory_backoff,
    working_budget,
)
from .linalg import full_precision_matmul
from .nearest import NearestReal, finish_nearest, nearest_candidates


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int
    comparison: str
    realism: np.ndarray  # (n_fake,) float64 realism score of each generated sample
    fake_in_real: np.ndarray  # (n_fake,) bool: inside the real manifold (what precision averages)
    real_in_fake: np.ndarray  # (n_real,) bool: inside the generated manifold (what recall averages)
    real_radii: np.ndarray  # (n_real,) float64 k-NN radii within the real set
    fake_radii: np.ndarray  # (n_fake,) float64 k-NN radii within the generated set
    precision_interval: Interval
    recall_interval: Interval


@dataclass(frozen=True)
class DensityCoverage:
    density: float
    coverage: float
    k: int
    comparison: str
    fake_counts: np.ndarray  # (n_fake,) int64: how many real balls hold each generated sample
    real_covered: np.ndarray  # (n_real,) bool: the real sample's ball holds a generated sample
    real_radii: np.ndarray  # (n_real,) float64 k-NN radii within the real set
    density_interval: Interval | None  # None with fewer than 2 generated samples
    coverage_interval: Interval


@dataclass(frozen=True)
class ManifoldMetrics:
    precision_recall: PrecisionRecall | None
    density_coverage: DensityCoverage | None
    nearest: NearestReal | None
    real_nn_distance: np.ndarray | None = None  # (n_real,) each real sample's distance to its nearest other one


def precision_recall(real: Any, fake: Any, k: int = 3, **options: Any) -> PrecisionRecall:
    """Improved precision and recall with per-sample realism; options as for :func:`manifold_metrics`."""
    return manifold_metrics(real, fake, k_pr=k, k_dc=None, k_nn=None, **options).precision_recall


def density_coverage(real: Any, fake: Any, k: int = 5, **options: Any) -> DensityCoverage:
    """Density and coverage; options as for :func:`manifold_metrics`."""
    return manifold_metrics(real, fake, k_pr=None, k_dc=k, k_nn=None, **options).density_coverage


@torch.inference_mode()
def manifold_metrics(
    real: Any,
    fake: Any,
    *,
    k_pr: int | None = 3,
    k_dc: int | None = 5,
    k_nn: int | None = 1,
    real_nearest: bool = False,
    comparison: str = "<=",
    level: float = 0.95,
    device: str | torch.device = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Progress | None = None,
) -> ManifoldMetrics:
    """Precision/recall (k_pr), density/coverage (k_dc) and nearest real neighbours (k_nn) in one pass.

    A ``None`` k skips that part; ``real_nearest`` adds each real sample's distance to its nearest other real
    sample, which the real set's own k-NN pass finds at no extra cost. ``memory_budget`` bounds the working memory of the pass (tiles and
    exact re-measurements; the inputs, a float32 copy of them and per-sample results come on top); the
    CPU uses at most 64 MiB of it, which already runs at full speed. On out-of-memory the budget is halved
    and the pass rerun, which changes nothing in the results. The intervals are conditional on the other
    set's manifold; each says so in its ``method``.
    """
    check_comparison(comparison)
    if k_pr is None and k_dc is None and k_nn is None:
        raise MetricError("nothing to compute: k_pr, k_dc and k_nn are all None")
    where = resolve_device(device)
    real_t = as_features(real, "real features", where)
    fake_t = as_features(fake, "generated features", where)
    check_same_dim(real_t, fake_t)
    for k in (k_pr, k_dc):
        if k is not None:
            check_k(k, real_t.shape[0], "the real set")
    if k_pr is not None:
        check_k(k_pr, fake_t.shape[0], "the generated set")
    if k_nn is not None and not 1 <= k_nn <= real_t.shape[0]:
        raise MetricError(f"k_nn={k_nn} nearest real samples requested from a real set of {real_t.shape[0]}")
    progress = progress or null_progress()

    def compute(budget: int) -> ManifoldMetrics:
        budget = working_budget(budget, where)
        real_p, fake_p = prepare_points([real_t, fake_t], budget)
        real_ranks = sorted({k for k in (k_pr, k_dc, 1 if real_nearest else None) if k is not None})
        steps = Steps(
            progress,
            (self_tile_count(real_p.n, real_p.dim, budget) if real_ranks else 0)
            + (self_tile_count(fake_p.n, fake_p.dim, budget) if k_pr else 0)
            + cross_tile_count(fake_p.n, real_p.n, real_p.dim, budget),
        )
        real_radii2: dict[int, torch.Tensor] = {}
        fake_radii2: dict[int, torch.Tensor] = {}
        if real_ranks:
            d2, _ = self_knn(real_p, real_ranks, memory_budget=budget, steps=steps, stage="real k-NN")
            real_radii2 = dict(zip(real_ranks, d2.T.contiguous()))
        if k_pr:
            d2, _ = self_knn(fake_p, [k_pr], memory_budget=budget, steps=steps, stage="generated k-NN")
            fake_radii2 = {k_pr: d2[:, 0]}
        return _cross_pass(real_p, fake_p, real_radii2, fake_radii2, k_pr, k_dc, k_nn, comparison, level, budget, steps)

    with full_precision_matmul():
        return with_memory_backoff(compute, memory_budget)


class _Realism:
    """Running max over real balls of radius² / distance² per generated sample (see the module docstring)."""

    def __init__(self, radii2: torch.Tensor, n_fake: int) -> None:
        self.radii = radii2.sqrt()
        median = float(np.median(self.radii.cpu().numpy()))
        self.epsilon = max(1e-6 * median, 1e-15)
        self.weights = torch.where(self.radii <= median, radii2, 0.0).to(torch.float32)
        self.best = torch.zeros(n_fake, dtype=torch.float32, device=radii2.device)
        self.arg = torch.zeros(n_fake, dtype=torch.int64, device=radii2.device)

    def update(self, d: torch.Tensor, rs: slice, cs: slice, scratch: torch.Tensor) -> None:
        ratio = torch.clamp_min(d, self.epsilon**2, out=scratch)
        torch.div(self.weights[None, cs], ratio, out=ratio)
        value, arg = ratio.max(1)
        better = value > self.best[rs]
        self.best[rs] = torch.where(better, value, self.best[rs])
        self.arg[rs] = torch.where(better, arg + cs.start, self.arg[rs])

    def finish(self, fake: PointSet, real: PointSet, memory_budget: int) -> np.ndarray:
        """Realism from the exact distance to the best ball's centre."""
        rows = torch.arange(fake.n, device=self.arg.device)
        distance = exact_sq_distances(fake.exact, rows, real.exact, self.arg, memory_budget).sqrt()
        score = self.radii[self.arg] / distance.clamp_min(self.epsilon)
        return torch.where(self.best > 0, score, 0.0).cpu().numpy()


def _cross_pass(
    real: PointSet,
    fake: PointSet,
    real_radii2: dict[int, torch.Tensor],
    fake_radii2: dict[int, torch.Tensor],
    k_pr: int | None,
    k_dc: int | None,
    k_nn: int | None,
    comparison: str,
    level: float,
    budget: int,
    steps: Steps,
) -> ManifoldMetrics:
    """One pass over generated (tile rows) × real (tile columns) pairs, every requested metric at once."""
    device = real.work.device
    tiles = Tiles(fake, real, budget)
    precision_from_counts = k_pr is not None and k_pr == k_dc  # inside some ball ⇔ counted at least once
    nearest = nearest_candidates(fake, real, k_nn) if k_nn else None
    if k_pr:
        precision_test = None if precision_from_counts else BallTest(real_radii2[k_pr], comparison, "cols")
        recall_test = BallTest(fake_radii2[k_pr], comparison, "rows")
        realism = _Realism(real_radii2[k_pr], fake.n)
        fake_in_real = torch.zeros(fake.n, dtype=torch.bool, device=device)
        real_in_fake = torch.zeros(real.n, dtype=torch.bool, device=device)
    if k_dc:
        dc_test = BallTest(real_radii2[k_dc], comparison, "cols")
        counts = torch.zeros(fake.n, dtype=torch.int64, device=device)
        covered = torch.zeros(real.n, dtype=torch.bool, device=device)
    for i, j in tiles.pairs():
        rs, cs = tiles.row_slices[i], tiles.col_slices[j]
        d = tiles.distances(i, j)
        delta = tiles.delta(i, j)
        scratch = tiles.scratch(d)

        def exact(r: torch.Tensor, c: torch.Tensor, rs: slice = rs, cs: slice = cs) -> torch.Tensor:
            return exact_sq_distances(fake.exact, r + rs.start, real.exact, c + cs.start, budget)

        if nearest is not None:
            nearest.offer_tile(rs, d, cs.start)
        if k_pr:
            realism.update(d, rs, cs, scratch)
            if precision_test is not None:
                excess = precision_test.excess(d, rs, cs, scratch)
                fake_in_real[rs] |= precision_test.any_inside(excess, 1, delta, exact, rs, cs)
            excess = recall_test.excess(d, rs, cs, scratch)
            real_in_fake[cs] |= recall_test.any_inside(excess, 0, delta, exact, rs, cs)
        if k_dc:
            excess = dc_test.excess(d, rs, cs, scratch)
            covered[cs] |= dc_test.any_inside(excess, 0, delta, exact, rs, cs)
            counts[rs] += dc_test.count_inside(excess, delta, exact, rs, cs, buffer=d)  # d is spent here
        steps("real × generated")
    tiles.release()
    if precision_from_counts:
        fake_in_real = counts > 0

    pr = dc = None
    if k_pr:
        in_real, in_fake = fake_in_real.cpu().numpy(), real_in_fake.cpu().numpy()
        pr = PrecisionRecall(
            precision=float(in_real.mean()),
            recall=float(in_fake.mean()),
            k=k_pr,
            comparison=comparison,
            realism=realism.finish(fake, real, budget),
            fake_in_real=in_real,
            real_in_fake=in_fake,
            real_radii=real_radii2[k_pr].sqrt().cpu().numpy(),
            fake_radii=fake_radii2[k_pr].sqrt().cpu().numpy(),
            precision_interval=wilson_interval(int(in_real.sum()), in_real.size, level, _CONDITIONAL.format("generated", "real")),
            recall_interval=wilson_interval(int(in_fake.sum()), in_fake.size, level, _CONDITIONAL.format("real", "generated")),
        )
    if k_dc:
        fake_counts, real_covered = counts.cpu().numpy(), covered.cpu().numpy()
        density = float(fake_counts.sum() / (k_dc * fake.n))
        dc = DensityCoverage(
            density=density,
            coverage=float(real_covered.mean()),
            k=k_dc,
            comparison=comparison,
            fake_counts=fake_counts,
            real_covered=real_covered,
            real_radii=real_radii2[k_dc].sqrt().cpu().numpy(),
            density_interval=t_interval(density, fake_counts / k_dc, level, _DENSITY_METHOD),
            coverage_interval=wilson_interval(int(real_covered.sum()), real_covered.size, level, _COVERAGE_METHOD),
        )
    return ManifoldMetrics(
        precision_recall=pr,
        density_coverage=dc,
        nearest=finish_nearest(nearest, fake, real, k_nn, budget) if nearest is not None else None,
        real_nn_distance=real_radii2[1].sqrt().cpu().numpy() if 1 in real_radii2 else None,
    )


_CONDITIONAL = (
    "Wilson score interval over the {0} samples, conditional on the {1} manifold "
    "(the variability of the {1} set itself is not included)"
)
_DENSITY_METHOD = (
    "t interval of the mean ball count / k over generated samples, conditional on the real balls "
    "(the variability of the real set itself is not included)"
)
_COVERAGE_METHOD = (
    "Wilson score interval over the real samples, conditional on the generated set "
    "(the real balls overlap, so the trials are only approximately independent)"
)

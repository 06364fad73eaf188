"""Exact tiled k-NN: brute-force agreement, memory-budget independence, duplicates, CPU vs CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genloupe.engine.errors import Cancelled, MetricError
from genloupe.engine.metrics import density_coverage, manifold_metrics, nearest_real, precision_recall
from genloupe.engine.metrics.knn import Tiles, prepare_points, rounding_bound, with_memory_backoff
from genloupe.engine.progress import TaskProgress


def brute_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a.astype(np.float64)[:, None, :] - b.astype(np.float64)[None, :, :]) ** 2).sum(-1)


def features_with_duplicates(n: int, dim: int, seed: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, dim)) * scale).astype(np.float32)
    x[n // 2 : n // 2 + 10] = x[:10]  # exact duplicates inside the set
    return x


def test_neighbours_and_radii_equal_brute_force() -> None:
    real = features_with_duplicates(300, 40, seed=0)
    fake = features_with_duplicates(250, 40, seed=1, scale=1.2)
    fake[:5] = real[100:105]  # generated copies of real samples
    cross = brute_sq_distances(fake, real)
    nearest = nearest_real(fake, real, k=3)
    np.testing.assert_allclose(nearest.distances, np.sqrt(np.sort(cross, axis=1)[:, :3]), rtol=1e-12)
    assert (nearest.distances[:5, 0] == 0).all() and (nearest.indices[:5, 0] == np.arange(100, 105)).all()
    np.testing.assert_array_equal(nearest.indices[5:], np.argsort(cross, axis=1, kind="stable")[5:, :3])

    own = brute_sq_distances(real, real)
    np.fill_diagonal(own, np.inf)  # a point is excluded from its own radius by index, not by distance
    expected = np.sqrt(np.sort(own, axis=1)[:, 2])
    np.testing.assert_allclose(precision_recall(real, fake, k=3).real_radii, expected, rtol=1e-12)


def test_memory_budget_does_not_change_results() -> None:
    real = features_with_duplicates(260, 24, seed=2)
    fake = features_with_duplicates(230, 24, seed=3, scale=1.1)
    large = manifold_metrics(real, fake, k_nn=2)
    tiny = manifold_metrics(real, fake, k_nn=2, memory_budget=4000)  # 13 x 13 tiles
    for a, b in ((large.precision_recall, tiny.precision_recall), (large.density_coverage, tiny.density_coverage)):
        for name, value in vars(a).items():
            if name == "realism":  # the arg-max may pick another near-tie ball; its exact ratio is the same to ~1e-7
                np.testing.assert_allclose(value, getattr(b, name), rtol=1e-6)
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)
            else:
                assert value == getattr(b, name), name
    np.testing.assert_array_equal(large.nearest.indices, tiny.nearest.indices)
    np.testing.assert_array_equal(large.nearest.distances, tiny.nearest.distances)


def test_duplicated_points_do_not_collapse_closed_balls() -> None:
    rng = np.random.default_rng(4)
    points = rng.standard_normal((80, 16)).astype(np.float32)
    real = np.concatenate([points, points])  # every sample twice: its 1-NN radius is 0
    closed = manifold_metrics(real, real, k_pr=1, k_dc=1)
    assert (closed.precision_recall.real_radii == 0).all()  # exactly: prdc's float32 distances give ~1e-7 here
    pr, dc = closed.precision_recall, closed.density_coverage
    assert (pr.precision, pr.recall, dc.coverage) == (1.0, 1.0, 1.0)
    assert dc.density == 2.0  # each generated sample lies in the two zero-radius balls of its copies
    opened = manifold_metrics(real, real, k_pr=1, k_dc=1, comparison="<")
    scores = (opened.precision_recall.precision, opened.precision_recall.recall,
              opened.density_coverage.density, opened.density_coverage.coverage)
    assert scores == (0.0, 0.0, 0.0, 0.0)  # open balls of radius 0 hold nothing: prdc's collapse


@pytest.mark.parametrize(
    ("dim", "offset", "dtype"),
    [(2048, 0.0, np.float32), (512, 5.0, np.float32), (3, 0.0, np.float32), (256, 1e3, np.float64)],
)
def test_tile_distances_stay_well_inside_the_rounding_bound(dim: int, offset: float, dtype: type) -> None:
    rng = np.random.default_rng(dim)
    a = np.abs(rng.standard_normal((70, dim))).astype(dtype) + offset  # non-negative, like ReLU features
    b = np.abs(rng.standard_normal((60, dim)) * 1.3).astype(dtype) + offset
    pa, pb = prepare_points([torch.from_numpy(a), torch.from_numpy(b)], 1 << 20)
    tiles = Tiles(pa, pb, 1 << 30)
    error = np.abs(tiles.distances(0, 0).double().numpy() - brute_sq_distances(a, b))
    scale = pa.norms.double().numpy()[:, None] + pb.norms.double().numpy()[None, :]
    assert (error / scale).max() < rounding_bound(dim) / 10


def test_realism_follows_the_paper() -> None:
    real = features_with_duplicates(200, 12, seed=5)
    fake = features_with_duplicates(150, 12, seed=6, scale=1.4)
    result = precision_recall(real, fake, k=3)
    radii = result.real_radii
    kept = radii <= np.median(radii)  # the larger half of the balls is dropped
    expected = (radii[None, kept] / np.sqrt(brute_sq_distances(fake, real[kept]))).max(axis=1)
    np.testing.assert_allclose(result.realism, expected, rtol=1e-9)
    assert result.fake_in_real[result.realism >= 1].all()
    assert 0 < result.fake_in_real.mean() < 1


def test_bad_inputs_raise_metric_errors() -> None:
    real = np.zeros((10, 4), np.float32)
    with pytest.raises(MetricError, match="dimension"):
        precision_recall(real, np.zeros((10, 5), np.float32))
    with pytest.raises(MetricError, match="NaN"):
        precision_recall(real, np.full((10, 4), np.nan, np.float32))
    for bad in (np.inf, -np.inf):  # one value, or +inf and -inf whose sum is NaN
        fake = np.ones((10, 4), np.float32)
        fake[3, 2] = bad
        with pytest.raises(MetricError, match="generated features contains NaN or infinite"):
            precision_recall(real, fake)
    fake[3, 2], fake[7, 1] = np.inf, -np.inf
    with pytest.raises(MetricError, match="NaN or infinite"):
        precision_recall(real, fake)
    huge = np.full((10, 4), 3e38, np.float32)  # finite, though their float32 sum overflows
    assert precision_recall(huge, huge).precision == 1.0
    with pytest.raises(MetricError, match="k=10"):
        density_coverage(real, real, k=10)
    with pytest.raises(MetricError, match="comparison"):
        precision_recall(real, real, comparison="<<")
    with pytest.raises(MetricError, match="2-D"):
        nearest_real(np.zeros(4), real)


def test_progress_reaches_its_total_and_cancel_stops_the_pass() -> None:
    real = features_with_duplicates(120, 8, seed=7)
    updates: list[tuple[int, int, str]] = []
    manifold_metrics(real, real[::-1].copy(), memory_budget=2000, progress=TaskProgress(lambda *u: updates.append(u)))
    assert updates[-1][0] == updates[-1][1] > 10
    assert {stage for *_, stage in updates} == {"real k-NN", "generated k-NN", "real × generated"}
    cancelled = TaskProgress()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        manifold_metrics(real, real, progress=cancelled)


def test_torch_inputs_give_the_numpy_results() -> None:
    real = features_with_duplicates(100, 6, seed=8)
    fake = features_with_duplicates(90, 6, seed=9)
    from_numpy = precision_recall(real, fake, k=3)
    from_torch = precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=3)
    np.testing.assert_array_equal(from_numpy.fake_in_real, from_torch.fake_in_real)
    np.testing.assert_array_equal(from_numpy.real_radii, from_torch.real_radii)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    real = features_with_duplicates(3000, 64, seed=10)
    fake = features_with_duplicates(2500, 64, seed=11, scale=1.1)
    cpu = manifold_metrics(real, fake, device="cpu")
    gpu = manifold_metrics(real, fake, device="cuda", memory_budget=1 << 24)
    for a, b in ((cpu.precision_recall, gpu.precision_recall), (cpu.density_coverage, gpu.density_coverage)):
        for name, value in vars(a).items():
            other = getattr(b, name)
            if name.endswith("_radii"):
                np.testing.assert_allclose(value, other, rtol=1e-12, err_msg=name)  # exact on both
            elif name == "realism":  # float32 arg-max over balls; the ratio itself is exact
                np.testing.assert_allclose(value, other, rtol=1e-4, err_msg=name)
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, other, err_msg=name)  # identical membership and counts
            elif isinstance(value, float):
                assert value == pytest.approx(other, rel=1e-4), name
    np.testing.assert_array_equal(cpu.nearest.distances, gpu.nearest.distances)


def test_out_of_memory_halves_the_budget_and_retries() -> None:
    budgets: list[int] = []

    def compute(budget: int) -> int:
        budgets.append(budget)
        if budget > 1 << 22:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return budget

    def broken(budget: int) -> int:
        raise RuntimeError("shape mismatch")

    assert with_memory_backoff(compute, 1 << 24) == 1 << 22
    assert budgets == [1 << 24, 1 << 23, 1 << 22]
    with pytest.raises(RuntimeError, match="shape mismatch"):  # other errors are not retried
        with_memory_backoff(broken, 1 << 24)

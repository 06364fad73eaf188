"""FD, KID and IS against closed forms, and their intervals."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

from genloupe.engine.errors import MetricError
from genloupe.engine.metrics import frechet_distance, inception_score, kid
from genloupe.engine.metrics.intervals import t_interval, wilson_interval
from genloupe.engine.metrics.knn import Steps
from genloupe.engine.metrics.linalg import psd_factor
from genloupe.engine.progress import null_progress

kid_module = importlib.import_module("genloupe.engine.metrics.kid")  # the package exports the function kid


def test_inception_score_equals_its_closed_form() -> None:
    """Logit a on class i mod C, 0 elsewhere: p(y) is uniform in every part, so IS = C·exp(−H(p(y|x)))."""
    classes, a = 7, 3.0
    logits = np.zeros((10 * classes * 4, classes))
    logits[np.arange(len(logits)), np.arange(len(logits)) % classes] = a
    q = math.exp(a) / (math.exp(a) + classes - 1)
    r = 1 / (math.exp(a) + classes - 1)
    entropy = -(q * math.log(q) + (classes - 1) * r * math.log(r))
    score = inception_score(logits, splits=10)
    assert score.mean == pytest.approx(classes * math.exp(-entropy), rel=1e-12)
    assert score.std == pytest.approx(0.0, abs=1e-12)
    assert inception_score(np.zeros((50, 10)), splits=5).mean == pytest.approx(1.0, rel=1e-12)


def test_inception_score_interval_covers_the_split_spread() -> None:
    logits = np.random.default_rng(0).standard_normal((1000, 20)) * 3
    score = inception_score(logits, splits=10)
    assert score.interval.low < score.mean < score.interval.high
    assert score.interval.high - score.interval.low < 4 * score.std  # t·sd/√10, not ±sd
    with pytest.raises(MetricError):
        inception_score(logits, splits=0)


def _samples(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, dim)) @ rng.standard_normal((dim, dim)) / np.sqrt(dim) + 1.0).astype(np.float64)


@pytest.mark.parametrize("n", [500, 30], ids=["full rank", "singular covariance"])
def test_frechet_distance_of_a_scaled_copy_has_a_closed_form(n: int) -> None:
    """fake = s·real: FD = (1 − s)² (‖μ‖² + tr C), also when C is singular (n < d)."""
    real = _samples(n, 48, seed=1)
    s = 1.7
    mean, cov = real.mean(0), np.cov(real, rowvar=False)
    expected = (1 - s) ** 2 * (mean @ mean + np.trace(cov))
    assert frechet_distance(real, s * real).value == pytest.approx(expected, rel=1e-9)
    shift = np.linspace(-1, 1, 48)
    assert frechet_distance(real, real + shift).value == pytest.approx(shift @ shift, rel=1e-8)


def test_frechet_distance_of_low_rank_features_has_the_closed_form_too() -> None:
    """More rows than dimensions but rank 6 of 40 (dead or dependent features): both covariances are
    singular, so no Cholesky factor exists and C1 is factored by pivoted Cholesky at its numerical rank."""
    rng = np.random.default_rng(7)
    real = rng.standard_normal((600, 6)) @ rng.standard_normal((6, 40)) + 0.5
    s = 0.6
    mean, cov = real.mean(0), np.cov(real, rowvar=False)
    assert np.linalg.matrix_rank(cov) == 6
    assert frechet_distance(real, s * real).value == pytest.approx((1 - s) ** 2 * (mean @ mean + np.trace(cov)), rel=1e-9)


def test_psd_factor_reveals_the_rank() -> None:
    rng = np.random.default_rng(8)
    rows = rng.standard_normal((5, 30))
    low_rank = torch.from_numpy(rows.T @ rows)
    factor = psd_factor(low_rank)
    assert factor.shape == (30, 5)
    torch.testing.assert_close(factor @ factor.T, low_rank, rtol=0, atol=1e-12 * float(low_rank.abs().max()))
    full = low_rank + torch.eye(30)
    assert psd_factor(full).shape == (30, 30)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_psd_factor_on_a_gpu_factors_the_same_matrix() -> None:
    rng = np.random.default_rng(9)
    rows = rng.standard_normal((5, 30))
    low_rank = torch.from_numpy(rows.T @ rows)
    factor = psd_factor(low_rank.cuda()).cpu()
    assert factor.shape == (30, 5)
    torch.testing.assert_close(factor @ factor.T, low_rank, rtol=0, atol=1e-12 * float(low_rank.abs().max()))


def test_frechet_subsets_interval_and_bias_extrapolation() -> None:
    """Two samples of one distribution: FID_N ≈ b/N > 0, and the extrapolated FID_∞ lies much closer to 0."""
    both = torch.from_numpy(_samples(8000, 32, seed=2))
    real, fake = both[:4000], both[4000:]
    result = frechet_distance(real, fake, subsets=4, seed=3)
    assert result.n_real == result.n_fake == 4000 and result.dim == 32
    assert result.subset_values.shape == (4,) and (result.subset_values > result.value).all()
    assert abs(result.value_infinity) < result.value / 3
    assert result.interval.low < result.value < result.interval.high
    with pytest.raises(MetricError, match="subsets"):
        frechet_distance(real, fake, subsets=1)


def test_kid_is_seeded_unbiased_and_has_an_honest_interval() -> None:
    rng = np.random.default_rng(4)
    real = rng.standard_normal((900, 16)).astype(np.float32)
    same = rng.standard_normal((900, 16)).astype(np.float32)
    other = (rng.standard_normal((900, 16)) * 1.3).astype(np.float32)
    null = kid(real, same, subsets=30, subset_size=300, seed=5)
    assert null.interval.low < 0 < null.interval.high  # unbiased: an estimate of 0 straddles 0
    assert null.mean == kid(real, same, subsets=30, subset_size=300, seed=5).mean
    assert null.mean != kid(real, same, subsets=30, subset_size=300, seed=6).mean
    differ = kid(real, other, subsets=30, subset_size=300, seed=5)
    assert differ.interval.low > 0 and differ.mean > 10 * null.std
    assert "3 disjoint subset pairs" in differ.interval.method
    small = kid(real[:200], other[:150], subset_size=1000)
    assert small.subset_size == 150 and small.interval is None


def _float64_kids(real: np.ndarray, fake: np.ndarray, subsets: int, m: int, seed: int,
                  kernel: tuple[int, float | None, float] = (3, None, 1.0)) -> list[float]:
    """The unbiased MMD² of each subset pair kid draws, straight from the definition in float64."""
    draws = kid_module._draw(len(real), len(fake), subsets, m, np.random.default_rng(seed))
    return [_float64_kid(real[r].astype(np.float64), fake[f].astype(np.float64), kernel) for r, f in zip(*draws)]


def _float64_kid(x: np.ndarray, y: np.ndarray, kernel_parameters: tuple[int, float | None, float]) -> float:
    degree, gamma, coef0 = kernel_parameters

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T * (1 / a.shape[1] if gamma is None else gamma) + coef0) ** degree

    m = len(x)
    xx, yy = kernel(x, x), kernel(y, y)
    within = xx.sum() - np.trace(xx) + yy.sum() - np.trace(yy)
    return within / (m * (m - 1)) - 2 * kernel(x, y).sum() / (m * m)


def pixel_like_pair(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features with a large common mean and a small difference: MMD² ~1e-4 against kernel values ~2,
    where raw float32 products would bias every subset."""
    rng = np.random.default_rng(seed)
    real = rng.random((n, dim)).astype(np.float32)
    fake = np.clip(rng.random((n, dim)) * 1.02, 0, 1).astype(np.float32)
    return real, fake


def test_kid_float32_products_match_float64_and_say_so() -> None:
    real, fake = pixel_like_pair(1200, 256, seed=11)
    result = kid(real, fake, subsets=12, subset_size=300, seed=2)
    assert result.precision.startswith("float32 products of centred features")
    expected = _float64_kids(real, fake, subsets=12, m=300, seed=2)
    spread_of_mean = result.std / np.sqrt(12)
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=1e-3 * spread_of_mean)  # the promise
    assert abs(result.mean - np.mean(expected)) < 1e-5 * spread_of_mean  # what it achieves: ~1e-10
    assert result.values[:3] == pytest.approx(expected[:3], rel=1e-12)  # the rechecked subsets are float64


@pytest.mark.parametrize(("degree", "gamma", "coef0", "m"), [(1, None, 1.0, 40), (2, 0.3, 0.5, 7), (4, 0.01, 2.0, 33)])
def test_kid_any_polynomial_kernel_and_subset_size_matches_the_definition(
    degree: int, gamma: float | None, coef0: float, m: int
) -> None:
    """Subset sizes below, at and off the kernel sums' row blocks, kernels other than the cubic."""
    real, fake = pixel_like_pair(200, 24, seed=15)
    result = kid(real, fake, subsets=8, subset_size=m, degree=degree, gamma=gamma, coef0=coef0, seed=6)
    expected = _float64_kids(real, fake, subsets=8, m=m, seed=6, kernel=(degree, gamma, coef0))
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=1e-3 * result.std / np.sqrt(8))
    assert result.values[:3] == pytest.approx(expected[:3], rel=1e-12)


def test_kid_of_two_whole_sets_is_computed_once_in_float64() -> None:
    """Subsets as large as both sets are the whole sets every time: one float64 MMD², not 100 recomputations
    that float32's rounding (against a spread of 0) would all send to float64."""
    real, fake = pixel_like_pair(150, 32, seed=16)
    result = kid(real, fake, subsets=100, subset_size=150)
    assert result.precision == "float64" and result.subset_size == 150 and result.std == 0.0
    assert result.values.shape == (100,) and result.interval is None
    assert result.mean == pytest.approx(_float64_kid(real.astype(np.float64), fake.astype(np.float64),
                                                     (3, None, 1.0)), rel=1e-12)


def test_kid_falls_back_to_float64_when_float32_is_not_good_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    real, fake = pixel_like_pair(900, 64, seed=12)
    monkeypatch.setattr(kid_module, "TOLERANCE", 0.0)  # no float32 error is small enough
    result = kid(real, fake, subsets=9, subset_size=300, seed=3)
    assert result.precision.startswith("float64: float32 products of centred features differed")
    expected = _float64_kids(real, fake, subsets=9, m=300, seed=3)
    assert result.values == pytest.approx(expected, rel=1e-12)


def test_kid_batched_float64_path_of_gpus_equals_the_cpu_path() -> None:
    """The CUDA path (batched float64 products), run here on CPU tensors, gives the CPU path's values."""
    real, fake = pixel_like_pair(900, 48, seed=14)
    result = kid(real, fake, subsets=6, subset_size=300, seed=4)
    real_rows, fake_rows = kid_module._draw(900, 900, 6, 300, np.random.default_rng(4))
    batched = kid_module._mmd2_batched(torch.from_numpy(real), torch.from_numpy(fake), real_rows, fake_rows,
                                       (3, 1 / 48, 1.0), 1 << 24, Steps(null_progress(), 6))
    spread_of_mean = result.std / np.sqrt(6)
    np.testing.assert_allclose(batched, result.values, rtol=0, atol=1e-3 * spread_of_mean)
    assert batched[:3] == pytest.approx(result.values[:3], rel=1e-10)


def test_kid_subsets_come_in_rounds_of_disjoint_pairs() -> None:
    """Each round cuts both sets into ⌊N/m⌋ disjoint subsets; the first round gives the interval."""
    real_rows, fake_rows = kid_module._draw(1000, 700, 7, 200, np.random.default_rng(0))
    assert real_rows.shape == fake_rows.shape == (7, 200)
    for rows, n in ((real_rows, 1000), (fake_rows, 700)):
        assert all(len(set(r)) == 200 and r.max() < n for r in rows)
        assert len(set(rows[:3].ravel())) == 600 and len(set(rows[3:6].ravel())) == 600  # rounds of 3
    real, fake = pixel_like_pair(1000, 32, seed=13)
    result = kid(real, fake[:700], subsets=7, subset_size=200)
    assert "from 3 disjoint subset pairs of 200" in result.interval.method


def test_interval_helpers() -> None:
    assert t_interval(1.0, np.array([1.0]), 0.95, "one value") is None
    none = wilson_interval(0, 50, 0.95, "x")
    assert none.low == 0.0 and 0 < none.high < 0.1
    assert wilson_interval(50, 50, 0.95, "x").high == 1.0

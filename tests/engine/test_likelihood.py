"""The likelihood engine: conventions, exact baselines, determinism, batch-size invariance, bad models."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from genloupe.engine.errors import DataError, ModelError
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.models.base import ModelInfo
from genloupe.engine.progress import TaskProgress
from genloupe.engine.errors import Cancelled

SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().images.astype(np.uint8)[:, None]


class UniformDensity(torch.nn.Module):
    """log p = 0 on [0,1)^D: a continuous density that scores exactly log2(L) bits/dim."""

    info = ModelInfo("uniform", "test", SHAPE, 17, "exact", discrete=False, estimator="closed form")

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        inside = ((y >= 0) & (y < 1)).flatten(1).all(1)
        return torch.where(inside, 0.0, -math.inf).to(y.dtype)


class DiagonalGaussian(torch.nn.Module):
    """A fixed diagonal Gaussian density with per-dimension log-likelihoods."""

    info = ModelInfo("gauss", "test", SHAPE, 17, "exact", discrete=False, estimator="closed form", per_dim=True)

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        return torch.distributions.Normal(self.mean, self.std).log_prob(y)

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)


class DiscreteUniform(torch.nn.Module):
    info = ModelInfo("discrete-uniform", "test", SHAPE, 17, "exact", discrete=True, estimator="closed form")

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        return torch.full((len(y),), -64 * math.log(17), dtype=torch.float64)


class NoisyBound(torch.nn.Module):
    """A stochastic lower-bound estimator: log-mean-exp of K noisy draws below a fixed value."""

    info = ModelInfo("bound", "test", SHAPE, 17, "lower_bound", discrete=True, estimator="IWAE", bound_k=4)

    def log_prob(self, y, generator=None, k=None):
        noise = torch.rand((k, len(y)), generator=generator, device=y.device, dtype=torch.float64)
        return (torch.logsumexp(-noise, 0) - math.log(k) - 100.0).to(y.dtype)


def gaussian_for(digits: np.ndarray) -> DiagonalGaussian:
    values = torch.as_tensor(digits, dtype=torch.float32) / 17
    return DiagonalGaussian(values.mean(0), values.std(0) + 0.05)


def test_uniform_density_scores_exactly_log2_levels(digits):
    result = evaluate_likelihood(UniformDensity(), digits, 17, device="cpu")
    assert result.mean_bpd == pytest.approx(math.log2(17), abs=1e-12)
    assert np.allclose(result.bpd, 4.0875, atol=1e-4)
    assert result.convention.dequantization == "uniform" and result.convention.is_bound


def test_discrete_uniform_scores_log2_levels_without_offset(digits):
    result = evaluate_likelihood(DiscreteUniform(), digits[:100], 17, device="cpu")
    assert result.mean_bpd == pytest.approx(math.log2(17), abs=1e-12)
    assert result.log_px_plain is None and result.convention.dequantization == "none"
    assert "exact" in result.convention.describe()


def test_importance_weighted_bound_is_tighter_than_plain(digits):
    result = evaluate_likelihood(gaussian_for(digits), digits, 17, device="cpu", k_deq=8)
    assert np.all(result.log_px >= result.log_px_plain - 1e-9)
    assert result.mean_bpd < math.log2(17)  # a fitted Gaussian beats uniform


def test_same_values_for_any_batch_size_and_deterministic_for_seed(digits):
    model = gaussian_for(digits)
    a = evaluate_likelihood(model, digits, 17, device="cpu", batch_size=64, seed=3)
    b = evaluate_likelihood(model, digits, 17, device="cpu", batch_size=1000, seed=3)
    c = evaluate_likelihood(model, digits, 17, device="cpu", batch_size=64, seed=4)
    assert np.max(np.abs(a.log_px - b.log_px)) < 1e-4
    assert not np.allclose(a.log_px, c.log_px)


def test_per_dim_bits_sum_to_the_plain_bound(digits):
    result = evaluate_likelihood(gaussian_for(digits), digits[:200], 17, device="cpu", per_dim=True)
    assert result.per_dim_bits.shape == (200, *SHAPE)
    total = result.per_dim_bits.reshape(200, -1).sum(1)
    assert np.allclose(total, -result.log_px_plain / math.log(2), atol=1e-6)


def test_bound_models_are_labelled_and_batch_invariant(digits):
    a = evaluate_likelihood(NoisyBound(), digits[:300], 17, device="cpu", batch_size=64, k_bound=16)
    b = evaluate_likelihood(NoisyBound(), digits[:300], 17, device="cpu", batch_size=512, k_bound=16)
    assert np.array_equal(a.log_px, b.log_px)
    assert a.convention.kind == "lower_bound" and a.convention.k_bound == 16
    assert "IWAE-16" in a.convention.describe()
    default = evaluate_likelihood(NoisyBound(), digits[:10], 17, device="cpu")
    assert default.convention.k_bound == 4


def test_nan_outputs_are_named_not_averaged(digits):
    class SometimesNaN(DiagonalGaussian):
        def log_prob(self, y):
            out = super().log_prob(y)
            out[::50] = math.nan
            return out

    model = SometimesNaN(torch.zeros(SHAPE) + 0.5, torch.ones(SHAPE))
    with pytest.raises(ModelError, match=r"NaN or infinite log-likelihood for 2 of 100 samples \(indices 0, 50\)"):
        evaluate_likelihood(model, digits[:100], 17, device="cpu", k_deq=1)


def test_wrong_output_shape_and_mismatched_data_are_errors(digits):
    class WrongShape(UniformDensity):
        def log_prob(self, y):
            return torch.zeros(len(y), 2)

    with pytest.raises(ModelError, match="expected"):
        evaluate_likelihood(WrongShape(), digits[:10], 17, device="cpu")
    with pytest.raises(DataError, match="levels"):
        evaluate_likelihood(UniformDensity(), digits[:10], 256, device="cpu")
    with pytest.raises(DataError, match="expects"):
        evaluate_likelihood(UniformDensity(), np.zeros((4, 3, 8, 8), np.uint8), 17, device="cpu")


def test_cancellation_stops_between_batches(digits):
    progress = TaskProgress(on_update=lambda done, total, stage: progress.cancel() if done else None)
    with pytest.raises(Cancelled):
        evaluate_likelihood(UniformDensity(), digits, 17, device="cpu", batch_size=64, progress=progress)

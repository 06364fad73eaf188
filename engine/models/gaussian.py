"""Diagonal Gaussian over the dequantized pixels: the simplest exact density, factorized per pixel.

Its maximum-likelihood fit has a closed form, so ``fit`` trains it in one pass over the data: the
expected log-density E_u[log N((x + u)/L; m, s^2)] over the dequantization noise u ~ U[0,1) is
maximized by the mean and variance of y = (x + u)/L, which are exact without drawing any u:
m = (mean(x) + 1/2)/L and s^2 = (var(x) + 1/12)/L^2 per pixel.

Also home of what the other continuous families build on: Gaussian and uniform draws from a caller's
generator, and the dequantized training objective.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from ..data.dataset import Dataset
from ..device import resolve_device
from ..progress import Progress, null_progress
from .base import ModelInfo
from .zoo import ZooModel, register

LOG_2PI = math.log(2.0 * math.pi)
MOMENT_CHUNK = 1024  # images per chunk of the one-pass moment sums


def normal_log_density(y: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(y; mean, exp(log_std)^2), natural log."""
    return -0.5 * ((y - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * LOG_2PI


def _draw(fn: Callable[..., torch.Tensor], shape: tuple[int, ...], generator: torch.Generator | None,
          device: torch.device) -> torch.Tensor:
    """Draw on the generator's own device (a CPU generator may drive a CUDA model), then move."""
    where = generator.device if generator is not None else device
    return fn(shape, generator=generator, device=where).to(device)


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return _draw(torch.randn, shape, generator, device)


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return _draw(torch.rand, shape, generator, device)


def categorical(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of ``probs`` (..., K) by inverse CDF of a uniform draw."""
    u = uniform(probs.shape[:-1] + (1,), generator, probs.device)
    index = (torch.cumsum(probs, -1) < u).sum(-1)
    return index.clamp(max=probs.shape[-1] - 1)


def dequantized_data(x: torch.Tensor, levels: int, generator: torch.Generator | None) -> torch.Tensor:
    """y = (x + u) / L with u ~ U[0,1)^D: integer levels to points in the bins of [0,1]^D."""
    return (x.to(torch.float32) + uniform(tuple(x.shape), generator, x.device)) / levels


def dequantized_loss(model: ZooModel, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Mean of (-log p(y) + D ln L) / D over the batch, in nats per dimension.

    Divided by ln 2 this is the plain dequantization bound on bits/dim of the discrete images, so a
    continuous family's loss reads on the same scale as a discrete family's -log P(x) / D.
    """
    levels = model.info.levels
    y = dequantized_data(x, levels, generator)
    dims = y[0].numel()
    return -model.log_prob(y).mean() / dims + math.log(levels)


@register
class DiagonalGaussian(ZooModel):
    """y ~ N(mean, diag(std^2)) per pixel on [0,1]^D (mass outside [0,1] is lost, so the bound holds)."""

    family = "gaussian"

    def __init__(self, data_shape: list[int], levels: int) -> None:
        super().__init__()
        self.config = {"data_shape": [int(s) for s in data_shape], "levels": int(levels)}
        self.data_shape = tuple(self.config["data_shape"])
        self.levels = int(levels)
        self.mean = nn.Parameter(torch.full(self.data_shape, 0.5))
        self.log_std = nn.Parameter(torch.full(self.data_shape, math.log(0.25)))

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"data_shape": list(data_shape), "levels": levels}

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            name="diagonal Gaussian",
            family=self.family,
            data_shape=self.data_shape,
            levels=self.levels,
            likelihood="exact",
            discrete=False,
            estimator="closed form (factorized Gaussian density)",
            per_dim=True,
        )

    @classmethod
    def fit(
        cls,
        train: Dataset,
        val: Dataset,
        *,
        config: dict[str, Any],
        epochs: int | None,
        seed: int,
        device: str | torch.device,
        progress: Progress | None,
    ) -> "DiagonalGaussian":
        """The maximum-likelihood fit on ``train`` in closed form (one pass; no epochs, no seed needed)."""
        progress = progress or null_progress()
        progress.update(0, 1, "fit")
        model = cls(**config)
        model.init_from_data(torch.as_tensor(train.images))
        progress.update(1, 1, "fit")
        return model.to(resolve_device(device)).eval()

    def init_from_data(self, x: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Set the maximum-likelihood fit to integer levels x (N, C, H, W), exact over the dequantization
        noise (so no ``generator`` is drawn from): integer sums in one pass, chunked, then the moments."""
        total = torch.zeros(self.data_shape, dtype=torch.int64, device=x.device)
        squares = torch.zeros_like(total)
        for start in range(0, len(x), MOMENT_CHUNK):
            chunk = x[start : start + MOMENT_CHUNK].to(torch.int64)
            total += chunk.sum(0)
            squares += (chunk * chunk).sum(0)
        mean_x = total.double() / len(x)
        var_x = (squares.double() / len(x) - mean_x**2).clamp(min=0.0)
        with torch.no_grad():
            self.mean.copy_((mean_x + 0.5) / self.levels)
            self.log_std.copy_(0.5 * torch.log((var_x + 1.0 / 12.0) / self.levels**2))

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        return normal_log_density(y, self.mean, self.log_std)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = standard_normal((n, *self.data_shape), generator, self.mean.device)
        return (self.mean + torch.exp(self.log_std) * eps).clamp(0.0, 1.0)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return dequantized_loss(self, x, generator)

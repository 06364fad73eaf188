"""Diagonal Gaussian over the dequantized pixels: the simplest exact density, factorized per pixel.

Also home of what the other continuous families build on: Gaussian and uniform draws from a caller's
generator, and the dequantized training objective.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .base import ModelInfo
from .zoo import ZooModel, register

LOG_2PI = math.log(2.0 * math.pi)


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
    training_defaults = {"lr": 1e-2, "patience": 3}  # starts at the maximum-likelihood fit already

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

    def init_from_data(self, x: torch.Tensor, generator: torch.Generator | None) -> None:
        """Start at the moments of the dequantized training data (the maximum-likelihood fit)."""
        y = dequantized_data(x, self.levels, generator)
        with torch.no_grad():
            self.mean.copy_(y.mean(0))
            self.log_std.copy_(torch.log(y.std(0, correction=0).clamp(min=1e-3)))

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        return normal_log_density(y, self.mean, self.log_std)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = standard_normal((n, *self.data_shape), generator, self.mean.device)
        return (self.mean + torch.exp(self.log_std) * eps).clamp(0.0, 1.0)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return dequantized_loss(self, x, generator)

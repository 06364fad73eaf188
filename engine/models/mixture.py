"""Gaussian mixture over the dequantized pixels: exact likelihood by logsumexp over components.

Covariances are diagonal, or full through the Cholesky factor P of the precision (Sigma^-1 = P P^T,
P lower triangular with a positive diagonal kept as its logarithm, as scikit-learn does): every
density stays valid whatever the optimizer does, and the density needs a matrix product, not a
triangular solve (several times faster to train on the CPU). Sampling solves P^T v = eps instead.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from ..errors import ModelError
from .base import ModelInfo
from .gaussian import (
    LOG_2PI,
    categorical,
    dequantized_data,
    dequantized_loss,
    normal_log_density,
    standard_normal,
    uniform,
)
from .zoo import ZooModel, register

COVARIANCES = ("diag", "full")


@register
class GaussianMixture(ZooModel):
    family = "mixture"
    training_defaults = {"lr": 3e-3, "batch_size": 128, "epochs": 500, "patience": 10}

    def __init__(
        self,
        data_shape: list[int],
        levels: int,
        components: int,
        covariance: Literal["diag", "full"],
    ) -> None:
        super().__init__()
        if covariance not in COVARIANCES:
            raise ModelError(f"mixture covariance must be one of {', '.join(COVARIANCES)}, got {covariance!r}")
        if components < 1:
            raise ModelError(f"a mixture needs at least one component, got {components}")
        self.config = {
            "data_shape": [int(s) for s in data_shape],
            "levels": int(levels),
            "components": int(components),
            "covariance": covariance,
        }
        self.data_shape = tuple(self.config["data_shape"])
        self.levels = int(levels)
        self.full = covariance == "full"
        dims = math.prod(self.data_shape)
        self.logits = nn.Parameter(torch.zeros(components))
        self.means = nn.Parameter(0.5 + 0.1 * torch.randn(components, dims))
        # Diagonal: log standard deviations. Full: minus the log of the precision factor's diagonal.
        self.log_scale = nn.Parameter(torch.full((components, dims), math.log(0.25)))
        if self.full:
            self.lower = nn.Parameter(torch.zeros(components, dims, dims))  # only the strict lower part is used

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"data_shape": list(data_shape), "levels": levels, "components": 10, "covariance": "full"}

    @property
    def info(self) -> ModelInfo:
        kind = "full-covariance" if self.full else "diagonal"
        return ModelInfo(
            name=f"Gaussian mixture ({self.config['components']} {kind} components)",
            family=self.family,
            data_shape=self.data_shape,
            levels=self.levels,
            likelihood="exact",
            discrete=False,
            estimator="logsumexp over components",
            per_dim=False,
        )

    def precision_cholesky(self) -> torch.Tensor:
        """(K, D, D) lower-triangular P with Sigma_k^-1 = P_k P_k^T (full covariance only)."""
        return torch.tril(self.lower, -1) + torch.diag_embed(torch.exp(-self.log_scale))

    def init_from_data(self, x: torch.Tensor, generator: torch.Generator | None) -> None:
        """Means at distinct random training images, scales at the data's per-pixel spread."""
        y = dequantized_data(x, self.levels, generator).flatten(1)
        k = self.means.shape[0]
        if len(y) < k:
            raise ModelError(f"a mixture of {k} components needs at least {k} training images, got {len(y)}")
        pick = torch.argsort(uniform((len(y),), generator, y.device))[:k]
        with torch.no_grad():
            self.means.copy_(y[pick])
            self.log_scale.copy_(torch.log(y.std(0, correction=0).clamp(min=1e-3)).expand_as(self.log_scale))

    def component_log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """(K, N) log N(y_n; mu_k, Sigma_k)."""
        y = y.flatten(1).unsqueeze(0)
        if not self.full:
            return normal_log_density(y, self.means.unsqueeze(1), self.log_scale.unsqueeze(1)).sum(-1)
        diff = y - self.means.unsqueeze(1)  # (K, N, D)
        white = diff @ self.precision_cholesky()  # rows of P^T (y - mu): (K, N, D)
        dims = diff.shape[-1]
        return -0.5 * (white**2).sum(-1) - self.log_scale.sum(-1, keepdim=True) - 0.5 * dims * LOG_2PI

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        log_weights = torch.log_softmax(self.logits, 0).unsqueeze(1)
        return torch.logsumexp(log_weights + self.component_log_prob(y), 0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.means.device
        which = categorical(torch.softmax(self.logits, 0).expand(n, -1), generator)
        eps = standard_normal((n, self.means.shape[1]), generator, device)
        if self.full:  # v = P^-T eps has covariance P^-T P^-1 = Sigma; (K, n, D) solves, never an (n, D, D) copy
            per_component = torch.linalg.solve_triangular(self.precision_cholesky().transpose(1, 2),
                                                          eps.T.unsqueeze(0), upper=True).transpose(1, 2)
            offset = per_component[which, torch.arange(n, device=device)]
        else:
            offset = torch.exp(self.log_scale[which]) * eps
        return (self.means[which] + offset).reshape(n, *self.data_shape).clamp(0.0, 1.0)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return dequantized_loss(self, x, generator)

"""MADE over the discrete levels: log P(x) = sum_i log P(x_i | x_<i), a softmax over L values per dimension.

One masked pass gives every conditional (raster order over C, H, W), so log_prob and the per-pixel
log-likelihoods are exact and batched; sampling is sequential, one dimension per pass, and computes
only the L outputs of that dimension. The direct input-to-output connection (on by default) is an
(L*D) x D matrix: at real sizes (784 dimensions, 256 levels: 157 million weights) leave it out
("direct": false) or use the convolutional architecture (:mod:`.pixelcnn`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .base import ModelInfo
from .gaussian import categorical
from .zoo import ZooModel, register


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 connectivity mask (out, in)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask, persistent=False)  # rebuilt from the config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def _masked_rows(layer: MaskedLinear, inputs: torch.Tensor, rows: slice | torch.Tensor) -> torch.Tensor:
    """The outputs ``rows`` of a masked layer alone (sampling needs L of its L*D outputs per step)."""
    return F.linear(inputs, layer.weight[rows] * layer.mask[rows], layer.bias[rows])


def made_masks(dims: int, hidden: list[int], levels: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Masks of the hidden layers and of the direct input-to-output layer, from fixed degrees.

    Input i has degree i (1..D); hidden units cycle through 1..D-1; the L outputs of dimension d
    see only units of degree < d, so output d depends on x_<d alone.
    """
    inputs = torch.arange(1, dims + 1)
    degrees = [inputs] + [torch.arange(size) % max(dims - 1, 1) + 1 for size in hidden]
    masks = [(after[:, None] >= before[None, :]).float() for before, after in zip(degrees, degrees[1:])]
    outputs = inputs.repeat(levels)  # output layout (L, D): index l * D + d has degree d + 1
    masks.append((outputs[:, None] > degrees[-1][None, :]).float())
    return masks, (outputs[:, None] > inputs[None, :]).float()


@register
class MADE(ZooModel):
    family = "autoregressive"
    training_defaults = {"lr": 3e-3, "patience": 8}

    def __init__(self, data_shape: list[int], levels: int, hidden: list[int], direct: bool = True) -> None:
        super().__init__()
        if not hidden or min(hidden) < 1:
            raise ModelError(f"MADE needs at least one hidden layer of positive width, got {list(hidden)}")
        self.config = {"data_shape": [int(s) for s in data_shape], "levels": int(levels), "hidden": [int(h) for h in hidden],
                       "direct": bool(direct)}
        self.data_shape = tuple(self.config["data_shape"])
        self.levels = int(levels)
        self.dims = math.prod(self.data_shape)
        masks, direct_mask = made_masks(self.dims, self.config["hidden"], self.levels)
        self.layers = nn.ModuleList(MaskedLinear(mask) for mask in masks)
        self.direct = MaskedLinear(direct_mask) if direct else None

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"data_shape": list(data_shape), "levels": levels, "hidden": [128, 128], "direct": True}

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            name=f"MADE ({'-'.join(str(h) for h in self.config['hidden'])} hidden, softmax over {self.levels} levels)",
            family=self.family,
            data_shape=self.data_shape,
            levels=self.levels,
            likelihood="exact",
            discrete=True,
            estimator="autoregressive (sum of conditional log-softmax)",
            per_dim=True,
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, D) logits of every conditional P(x_d | x_<d) from integer levels x (N, D)."""
        return self._outputs(x, slice(None)).view(len(x), self.levels, self.dims)

    def _outputs(self, x: torch.Tensor, rows: slice | torch.Tensor) -> torch.Tensor:
        """The output units ``rows`` (index l * D + d: level l of dimension d) from integer levels x (N, D)."""
        inputs = 2.0 * x.to(torch.float32) / (self.levels - 1) - 1.0
        h = inputs
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        out = _masked_rows(self.layers[-1], h, rows)
        return out if self.direct is None else out + _masked_rows(self.direct, inputs, rows)

    def level_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) log P(x_i | x_<i) of integer levels x."""
        flat = x.reshape(len(x), self.dims).long()
        log_p = torch.log_softmax(self.logits(flat), 1).gather(1, flat.unsqueeze(1)).squeeze(1)
        return log_p.view(len(x), *self.data_shape)

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        """Per-dimension log P of grid values y = x / (L - 1)."""
        x = torch.round(y * (self.levels - 1)).clamp(0, self.levels - 1)
        return self.level_log_probs(x)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = torch.zeros(n, self.dims, dtype=torch.long, device=self.layers[0].weight.device)
        levels = torch.arange(self.levels, device=x.device) * self.dims
        for d in range(self.dims):
            probs = torch.softmax(self._outputs(x, levels + d), 1)
            x[:, d] = categorical(probs, generator)
        return x.to(torch.float32).view(n, *self.data_shape) / (self.levels - 1)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """-log P(x) / D, nats per dimension (no dequantization: the model is discrete)."""
        return -self.level_log_probs(x).mean()

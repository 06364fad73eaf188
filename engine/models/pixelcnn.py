"""Gated PixelCNN over the discrete levels: the autoregressive family's convolutional architecture.

log P(x) = sum_i log P(x_i | x_<i) in raster order over rows, then columns, then channels (R before
G before B at one pixel), a softmax over the L levels per sub-pixel (van den Oord et al. 2016,
"Conditional Image Generation with PixelCNN Decoders"). Two stacks avoid the blind spot of a plain
masked convolution: the vertical stack sees the rows above (its input is shifted down one row, and
its kernels reach no lower than the current row), the horizontal stack sees the current row to the
left and, through a channel mask, the earlier channels of the current pixel. Hidden feature maps are
split into C groups, group c serving channel c: at the current pixel a group sees the input channels
before it in the first layer (mask A) and the groups up to itself afterwards (mask B).

One pass gives every conditional, so log_prob and per-sub-pixel log-likelihoods are exact and
batched; sampling takes one pass per sub-pixel, each cut off below the current row (the network is
causal, so the rows below change nothing).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .base import ModelInfo
from .gaussian import categorical
from .zoo import ZooModel, register


def channel_groups(units: int, channels: int) -> torch.Tensor:
    """The image channel each of ``units`` hidden features serves: contiguous blocks, channel 0 first."""
    return torch.arange(units) * channels // units


def centre_mask(groups_out: torch.Tensor, groups_in: torch.Tensor, kernel_width: int, strict: bool) -> torch.Tensor:
    """(out, in, 1, kernel_width) mask of a left-looking row kernel whose last column is the current pixel.

    Columns to the left are all visible; at the current pixel an output group sees input groups
    before it (``strict``, mask A) or up to and including it (mask B).
    """
    mask = torch.ones(len(groups_out), len(groups_in), 1, kernel_width)
    allowed = groups_out[:, None] > groups_in[None, :] if strict else groups_out[:, None] >= groups_in[None, :]
    mask[:, :, 0, -1] = allowed.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution whose weight is multiplied by a fixed 0/1 mask (rebuilt from the config)."""

    def __init__(self, mask: torch.Tensor) -> None:
        out_channels, in_channels, kh, kw = mask.shape
        super().__init__(in_channels, out_channels, (kh, kw))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias)


def gate(features: torch.Tensor) -> torch.Tensor:
    """tanh(a) * sigmoid(b) of the two halves of the channel axis."""
    a, b = features.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated layer of both stacks; the first (mask A, no residual) takes the image itself."""

    def __init__(self, in_groups: torch.Tensor, features: int, channels: int, kernel: int, first: bool) -> None:
        super().__init__()
        self.half, self.first = kernel // 2, first
        hidden = channel_groups(features, channels)
        doubled = torch.cat([hidden, hidden])  # the gate's two halves serve the same channels
        self.vertical = nn.Conv2d(len(in_groups), 2 * features, (self.half + 1, kernel))
        self.horizontal = MaskedConv2d(centre_mask(doubled, in_groups, self.half + 1, strict=first))
        self.link = nn.Conv2d(2 * features, 2 * features, 1)  # vertical -> horizontal: rows above only
        self.residual = MaskedConv2d(centre_mask(hidden, hidden, 1, strict=False))

    def forward(self, vertical: torch.Tensor, horizontal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.vertical(F.pad(vertical, (self.half, self.half, self.half, 0)))  # rows up to the current one
        h = self.horizontal(F.pad(horizontal, (self.half, 0, 0, 0))) + self.link(v)  # columns up to the current one
        out = self.residual(gate(h))
        return gate(v), out if self.first else horizontal + out


@register
class GatedPixelCNN(ZooModel):
    family = "autoregressive"
    arch = "conv"
    training_defaults = {"lr": 1e-3, "patience": 5, "batch_size": 32}

    def __init__(self, data_shape: list[int], levels: int, features: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.config = {"arch": self.arch, "data_shape": [int(s) for s in data_shape], "levels": int(levels),
                       "features": int(features), "layers": int(layers), "kernel": int(kernel)}
        self.data_shape = tuple(self.config["data_shape"])
        self.levels = int(levels)
        channels = self.data_shape[0]
        if features < channels or layers < 1 or kernel < 1 or kernel % 2 == 0:
            raise ModelError(
                f"a gated PixelCNN needs at least one layer, an odd kernel and features >= channels ({channels}); "
                f"got features={features}, layers={layers}, kernel={kernel}"
            )
        image = torch.arange(channels)
        hidden = channel_groups(features, channels)
        self.layers = nn.ModuleList(
            GatedLayer(image if i == 0 else hidden, features, channels, kernel, first=i == 0) for i in range(layers)
        )
        outputs = image.repeat_interleave(self.levels)  # output c * L + l: level l of channel c
        self.output_hidden = MaskedConv2d(centre_mask(hidden, hidden, 1, strict=False))
        self.output = MaskedConv2d(centre_mask(outputs, hidden, 1, strict=False))

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"arch": cls.arch, "data_shape": list(data_shape), "levels": levels, "features": 24, "layers": 5,
                "kernel": 5}

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            name=f"gated PixelCNN ({self.config['layers']} layers of {self.config['features']} features, "
            f"softmax over {self.levels} levels)",
            family=self.family,
            data_shape=self.data_shape,
            levels=self.levels,
            likelihood="exact",
            discrete=True,
            estimator="autoregressive (sum of conditional log-softmax, raster then channel order)",
            per_dim=True,
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, C, H, W) logits of every conditional from integer levels x (N, C, H', W)."""
        return self.network(2.0 * x.to(torch.float32) / (self.levels - 1) - 1.0)

    def network(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, L, C, H, W) logits from real-valued inputs (N, C, H', W) in [-1, 1]."""
        vertical = F.pad(inputs, (0, 0, 1, 0))[:, :, :-1]  # shifted down: row i sees rows < i
        horizontal = inputs
        for layer in self.layers:
            vertical, horizontal = layer(vertical, horizontal)
        out = self.output(torch.relu(self.output_hidden(torch.relu(horizontal))))
        n, _, h, w = out.shape
        return out.view(n, self.data_shape[0], self.levels, h, w).transpose(1, 2)

    def level_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) log P(x_i | x_<i) of integer levels x."""
        return -F.cross_entropy(self.logits(x), x.long(), reduction="none")

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        """Per-dimension log P of grid values y = x / (L - 1)."""
        if y.ndim != 4 or tuple(y.shape[1:]) != self.data_shape:
            raise ModelError(f"the PixelCNN expects images of shape (N, {', '.join(map(str, self.data_shape))}), got {tuple(y.shape)}")
        return self.level_log_probs(torch.round(y * (self.levels - 1)).clamp(0, self.levels - 1))

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        channels, height, width = self.data_shape
        x = torch.zeros(n, *self.data_shape, dtype=torch.long, device=self.output.weight.device)
        with torch.no_grad():
            for i in range(height):
                for j in range(width):
                    for c in range(channels):
                        logits = self.logits(x[:, :, : i + 1])[:, :, c, i, j]
                        x[:, c, i, j] = categorical(torch.softmax(logits, 1), generator)
        return x.to(torch.float32) / (self.levels - 1)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """-log P(x) / D, nats per dimension (no dequantization: the model is discrete)."""
        return -self.level_log_probs(x).mean()

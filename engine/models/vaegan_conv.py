"""The hybrid family's convolutional architecture: the same VAE and GAN heads, training and bounds as
:mod:`.vaegan`, with convolutional networks for images at real sizes (28x28, 32x32, ...).

Encoder and discriminator halve the resolution ``downsample`` times with stride-2 4x4 convolutions
(channels ``hidden``, doubling at each halving) and end in a linear layer; decoder and generator
mirror them with transposed convolutions from a linear layer on the latent. The decoder gives a
discretized logistic per sub-pixel (mean and log-scale), so the VAE head bounds log P(x) of the
discrete image as the MLP hybrid does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ModelError
from .vaegan import DEFAULTS, MIN_LOG_SCALE, VAEGAN, _LeakyReLU
from .zoo import register

CONV_DEFAULTS: dict[str, Any] = {
    **DEFAULTS,
    "latent": 32,
    "hidden": 32,  # channels after the first halving (doubling at each further one)
    "downsample": 2,  # stride-2 halvings: height and width must be divisible by 2^downsample
    "epochs": 100,
    "patience": 10,
}


def _widths(base: int, steps: int) -> list[int]:
    """Channels after each halving: base, 2 base, 4 base, ..."""
    return [base * 2**i for i in range(steps)]


def conv_down(in_channels: int, base: int, steps: int, coarse: tuple[int, int], outputs: int,
              activation: type[nn.Module]) -> nn.Sequential:
    """Image (N, C, H, W) to (N, outputs): ``steps`` stride-2 convolutions, then a linear layer."""
    layers: list[nn.Module] = []
    channels = in_channels
    for width in _widths(base, steps):
        layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), activation()]
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * coarse[0] * coarse[1], outputs))


def conv_up(latent: int, base: int, steps: int, coarse: tuple[int, int], out_channels: int,
            activation: type[nn.Module]) -> nn.Sequential:
    """Latent (N, latent) to (N, out_channels, H, W): a linear layer, then ``steps`` stride-2 transposed
    convolutions and a 3x3 convolution at full resolution."""
    widths = _widths(base, steps)
    layers: list[nn.Module] = [nn.Linear(latent, widths[-1] * coarse[0] * coarse[1]), activation(),
                               nn.Unflatten(1, (widths[-1], *coarse))]
    for width, finer in zip(reversed(widths), reversed([base, *widths[:-1]])):
        layers += [nn.ConvTranspose2d(width, finer, 4, stride=2, padding=1), activation()]
    return nn.Sequential(*layers, nn.Conv2d(base, out_channels, 3, padding=1))


@register
class ConvVAEGAN(VAEGAN):
    """The hybrid with convolutional encoder, decoder, generator and discriminator."""

    arch = "conv"
    defaults = CONV_DEFAULTS

    def __init__(self, data_shape: list[int] | tuple[int, int, int], levels: int, **options: Any) -> None:
        super().__init__(data_shape, levels, **options)
        self.config = {"arch": self.arch, **self.config}

    def build_networks(self) -> None:
        channels, height, width = self.data_shape
        steps = self.config["downsample"]
        if steps < 1 or height % 2**steps or width % 2**steps:
            raise ModelError(
                f"conv vaegan: height and width ({height}x{width}) must be divisible by 2^downsample "
                f"(downsample={steps}, at least 1)"
            )
        coarse = (height // 2**steps, width // 2**steps)
        base, latent = self.hidden, self.latent
        self.encoder = conv_down(channels, base, steps, coarse, 2 * latent, nn.SiLU)
        self.decoder = conv_up(latent, base, steps, coarse, 2 * channels, nn.SiLU)
        self.generator = conv_up(latent, base, steps, coarse, channels, nn.SiLU)
        self.discriminator = conv_down(channels, base, steps, coarse, 1, _LeakyReLU)

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        """Architecture and training settings; :data:`CONV_DEFAULTS` are sized for 28x28 and 32x32 images."""
        return {"arch": cls.arch, **super().default_config(data_shape, levels)}

    def widest_activation(self) -> int:
        _, height, width = self.data_shape
        return max(2 * self.dims, self.hidden * height * width)

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.encoder(y * 2.0 - 1.0)
        return stats[:, : self.latent], stats[:, self.latent :]

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = self.data_shape[0]
        out = self.decoder(z.reshape(-1, self.latent))
        mean = 0.5 + out[:, :channels].reshape(*z.shape[:-1], self.dims)
        log_scale = out[:, channels:].reshape(*z.shape[:-1], self.dims).clamp(min=MIN_LOG_SCALE)
        return mean, log_scale

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.generator(z))

    def criticize(self, y: torch.Tensor) -> torch.Tensor:
        return self.discriminator(y * 2.0 - 1.0)[:, 0]

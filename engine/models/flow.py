"""RealNVP-style coupling flows: exact density by the change of variables.

y in [0,1]^D --logit pre-transform--> R^D --per-dimension affine (actnorm)--> steps --> z ~ N(0, I).
Every step's log-determinant is added, the logit's included (s = a + (1 - 2a) y, z = logit(s) adds
sum_i [ln(1 - 2a) - ln s_i - ln(1 - s_i)]), so log_prob is the density of y on [0,1]^D.

Two architectures share that frame: ``mlp`` (the default; couplings at full resolution, conditioned by
MLPs or small conv nets) and ``conv``, RealNVP's multi-scale arrangement for images at real sizes
(Dinh et al. 2017): at each scale, checkerboard couplings, a squeeze of 2x2 blocks into channels,
channel couplings; then checkerboard couplings at the coarsest scale.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .base import ModelInfo
from .gaussian import LOG_2PI, dequantized_data, dequantized_loss, standard_normal
from .zoo import ZooModel, register

MASKS = ("checkerboard", "channel")
NETS = ("mlp", "conv")


def logit_transform(y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """z = logit(a + (1 - 2a) y) and the log-determinant of dz/dy per sample."""
    s = alpha + (1.0 - 2.0 * alpha) * y
    log_s, log_1ms = torch.log(s), torch.log1p(-s)
    log_det = (math.log(1.0 - 2.0 * alpha) - log_s - log_1ms).flatten(1).sum(1)
    return log_s - log_1ms, log_det


def inverse_logit_transform(z: torch.Tensor, alpha: float) -> torch.Tensor:
    return (torch.sigmoid(z) - alpha) / (1.0 - 2.0 * alpha)


def coupling_mask(kind: str, data_shape: tuple[int, int, int], flip: bool) -> torch.Tensor:
    """(C, H, W) float mask: 1 where a coupling passes values through and conditions on them.

    'checkerboard' alternates pixels; 'channel' keeps the first half of the channels, which for a
    single channel means RealNVP's channel split after a 2x2 squeeze: the even rows.
    """
    c, h, w = data_shape
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    if kind == "checkerboard":
        mask = (rows + cols) % 2 == 0
    elif kind == "channel":
        mask = torch.arange(c).view(c, 1, 1) < c // 2 if c >= 2 else rows % 2 == 0
    else:
        raise ModelError(f"unknown coupling mask {kind!r}; use one of {', '.join(MASKS)}")
    mask = mask.expand(c, h, w).float()
    return 1.0 - mask if flip else mask


def conditioner(net: str, data_shape: tuple[int, int, int], hidden: int) -> nn.Module:
    """A network from the masked input to (shift, raw scale) for every dimension; starts at zero."""
    c, h, w = data_shape
    dims = c * h * w
    if net == "mlp":
        layers = [nn.Flatten(), nn.Linear(dims, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                  nn.Linear(hidden, 2 * dims), nn.Unflatten(1, (2, c, h, w))]
    elif net == "conv":
        layers = [nn.Conv2d(c + 1, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1),
                  nn.ReLU(), nn.Conv2d(hidden, 2 * c, 3, padding=1), nn.Unflatten(1, (2, c))]
    else:
        raise ModelError(f"unknown coupling network {net!r}; use one of {', '.join(NETS)}")
    last = [layer for layer in layers if isinstance(layer, (nn.Linear, nn.Conv2d))][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers)


class AffineCoupling(nn.Module):
    """out = z * exp(s(z_masked)) + t(z_masked) on the unmasked dimensions, identity on the masked."""

    def __init__(self, mask: torch.Tensor, net: str, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mask", mask, persistent=False)  # rebuilt from the config
        self.with_mask_channel = net == "conv"
        self.net = conditioner(net, tuple(mask.shape), hidden)
        self.scale = nn.Parameter(torch.ones(mask.shape))  # s = scale * tanh(raw): bounded steps

    def _shift_and_log_scale(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = z * self.mask
        if self.with_mask_channel:
            inputs = torch.cat([inputs, self.mask[:1].expand(len(z), 1, *self.mask.shape[1:])], 1)
        raw = self.net(inputs)
        free = 1.0 - self.mask
        return raw[:, 0] * free, self.scale * torch.tanh(raw[:, 1]) * free

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_and_log_scale(z)
        return z * torch.exp(log_scale) + shift, log_scale.flatten(1).sum(1)

    def inverse(self, out: torch.Tensor) -> torch.Tensor:
        shift, log_scale = self._shift_and_log_scale(out)  # the masked part is unchanged by forward
        return (out - shift) * torch.exp(-log_scale)


class Squeeze(nn.Module):
    """(C, H, W) to (4C, H/2, W/2), each 2x2 block into channels: a permutation, log-determinant 0."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.pixel_unshuffle(z, 2), z.new_zeros(len(z))

    def inverse(self, out: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(out, 2)


class LogitSpaceFlow(ZooModel):
    """What every flow architecture shares: the logit pre-transform, actnorm, the Gaussian base and the
    training objective. Subclasses build ``self.couplings``, steps with ``forward`` -> (z, log-det) and
    ``inverse``, and set ``self.latent_shape`` (the shape the last step leaves)."""

    family = "flow"

    def _start(self, data_shape: list[int], levels: int, alpha: float, options: dict[str, Any]) -> None:
        """Config, pre-transform and actnorm of a flow on ``data_shape``; ``options`` are the architecture's."""
        if not 0.0 < alpha < 0.5:
            raise ModelError(f"the logit pre-transform needs 0 < alpha < 0.5, got {alpha}")
        self.config = {"data_shape": [int(s) for s in data_shape], "levels": int(levels), **options, "alpha": float(alpha)}
        self.data_shape = self.latent_shape = tuple(self.config["data_shape"])
        self.levels = int(levels)
        self.alpha = float(alpha)
        self.shift = nn.Parameter(torch.zeros(self.data_shape))
        self.log_scale = nn.Parameter(torch.zeros(self.data_shape))

    def _info(self, name: str) -> ModelInfo:
        return ModelInfo(
            name=name,
            family=self.family,
            data_shape=self.data_shape,
            levels=self.levels,
            likelihood="exact",
            discrete=False,
            estimator="change of variables (logit pre-transform included)",
            per_dim=False,
        )

    def init_from_data(self, x: torch.Tensor, generator: torch.Generator | None) -> None:
        """Data-dependent actnorm: the logits of the training data start standardized."""
        z, _ = logit_transform(dequantized_data(x, self.levels, generator), self.alpha)
        with torch.no_grad():
            self.shift.copy_(z.mean(0))
            self.log_scale.copy_(torch.log(z.std(0, correction=0).clamp(min=1e-3)))

    def forward_transform(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data y in [0,1]^D to latent z, with log |det dz/dy| per sample."""
        z, log_det = logit_transform(y, self.alpha)
        z = (z - self.shift) * torch.exp(-self.log_scale)
        log_det = log_det - self.log_scale.sum()
        for coupling in self.couplings:
            z, step = coupling(z)
            log_det = log_det + step
        return z, log_det

    def inverse_transform(self, z: torch.Tensor) -> torch.Tensor:
        for coupling in reversed(self.couplings):
            z = coupling.inverse(z)
        return inverse_logit_transform(z * torch.exp(self.log_scale) + self.shift, self.alpha)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z, log_det = self.forward_transform(y)
        base = -0.5 * (z**2).flatten(1).sum(1) - 0.5 * z[0].numel() * LOG_2PI
        return base + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = standard_normal((n, *self.latent_shape), generator, self.shift.device)
        return self.inverse_transform(z).clamp(0.0, 1.0)

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return dequantized_loss(self, x, generator)


@register
class CouplingFlow(LogitSpaceFlow):
    training_defaults = {"lr": 3e-3, "patience": 8}

    def __init__(
        self,
        data_shape: list[int],
        levels: int,
        couplings: int,
        hidden: int,
        net: Literal["mlp", "conv"],
        masks: list[str],
        alpha: float,
    ) -> None:
        super().__init__()
        if couplings < 1 or not masks:
            raise ModelError("a coupling flow needs at least one coupling and one mask kind")
        self._start(data_shape, levels, alpha,
                    {"couplings": int(couplings), "hidden": int(hidden), "net": net, "masks": list(masks)})
        # Pairs of complementary masks, cycling through the mask kinds: every dimension gets transformed.
        self.couplings = nn.ModuleList(
            AffineCoupling(coupling_mask(masks[(i // 2) % len(masks)], self.data_shape, i % 2 == 1), net, hidden)
            for i in range(couplings)
        )

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"data_shape": list(data_shape), "levels": levels, "couplings": 8, "hidden": 64, "net": "mlp",
                "masks": list(MASKS), "alpha": 0.05}

    @property
    def info(self) -> ModelInfo:
        return self._info(f"coupling flow ({self.config['couplings']} {self.config['net']} couplings)")


@register
class MultiScaleFlow(LogitSpaceFlow):
    """RealNVP's multi-scale architecture with conv conditioners; every dimension goes through every
    step (no factoring out), so the latent has the squeezed shape (4^S C, H/2^S, W/2^S)."""

    arch = "conv"
    training_defaults = {"lr": 1e-3, "patience": 5, "batch_size": 32}

    def __init__(self, data_shape: list[int], levels: int, scales: int, couplings: int, hidden: int, alpha: float) -> None:
        super().__init__()
        _, height, width = data_shape
        if scales < 1 or couplings < 1 or hidden < 1 or height % 2**scales or width % 2**scales:
            raise ModelError(
                f"a multi-scale flow needs scales, couplings and hidden >= 1 and a height and width divisible by "
                f"2^scales; got scales={scales}, couplings={couplings}, hidden={hidden} for {height}x{width} images"
            )
        self._start(data_shape, levels, alpha,
                    {"arch": self.arch, "scales": int(scales), "couplings": int(couplings), "hidden": int(hidden)})
        steps: list[nn.Module] = []
        shape = self.data_shape
        for _ in range(scales):
            steps += self._stage("checkerboard", shape)
            steps.append(Squeeze())
            shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            steps += self._stage("channel", shape)
        steps += self._stage("checkerboard", shape)
        self.couplings = nn.ModuleList(steps)
        self.latent_shape = shape

    def _stage(self, mask: str, shape: tuple[int, int, int]) -> list[nn.Module]:
        """Couplings with alternating complementary masks of one kind at one scale."""
        count, hidden = self.config["couplings"], self.config["hidden"]
        return [AffineCoupling(coupling_mask(mask, shape, i % 2 == 1), "conv", hidden) for i in range(count)]

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        return {"arch": cls.arch, "data_shape": list(data_shape), "levels": levels, "scales": 2, "couplings": 3,
                "hidden": 32, "alpha": 0.05}

    @property
    def info(self) -> ModelInfo:
        c = self.config
        return self._info(f"multi-scale flow ({c['scales']} scales of 2x{c['couplings']} conv couplings, {c['hidden']} channels)")

"""Any model mixed with uniform noise: q = (1 - w) p + w u. The trap of a likelihood-only evaluation.

Theis et al. (2016): with w = 0.99, 99% of the samples are pure noise while the log-likelihood of
real data drops by at most ln 100 nats per image, since log q(x) >= log(1 - w) + log p(x) for every
x. GenLoupe uses it to check that its sample-level views and suggestions expose what the
likelihood hides.

u is the uniform distribution on the L^D grid for discrete models (log u = -D ln L) and the uniform
density on [0, 1)^D for continuous ones (log u = 0): in both cases the engine reports -D ln L nats
for any image under u alone, log2 L bits/dim.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from ..errors import ModelError
from .base import GenerativeModel, ModelInfo
from .gaussian import uniform


class NoiseMixture(nn.Module):
    """``model`` mixed with uniform noise of weight ``noise_weight`` (an nn.Module so the engine moves it)."""

    def __init__(self, model: GenerativeModel, noise_weight: float) -> None:
        super().__init__()
        if not 0.0 < noise_weight < 1.0:
            raise ModelError(f"noise weight must lie strictly between 0 and 1, got {noise_weight}")
        if model.info.likelihood == "none":
            raise ModelError(f"{model.info.name} has no likelihood to mix with noise")
        self.base = model
        self.noise_weight = float(noise_weight)

    @property
    def info(self) -> ModelInfo:
        base = self.base.info
        return replace(
            base,
            name=f"{base.name} + {self.noise_weight:g} noise",
            per_dim=False,  # a mixture's log-likelihood does not split into per-pixel terms
            extra={**base.extra, "noise_weight": self.noise_weight},
        )

    def log_noise(self) -> float:
        """log u of any input: -D ln L on the grid, 0 for the density on [0, 1)^D."""
        info = self.base.info
        return -info.dims * math.log(info.levels) if info.discrete else 0.0

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        """log((1 - w) p(y) + w u), in log space so neither term underflows."""
        base_lp = self.base.log_prob(y, generator=generator, k=k) if k else self.base.log_prob(y)
        noise_lp = torch.full_like(base_lp, math.log(self.noise_weight) + self.log_noise())
        return torch.logaddexp(base_lp + math.log1p(-self.noise_weight), noise_lp)

    def noise_choice(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Which of n samples are noise: the first draw ``sample`` makes from ``generator``.

        Calling it on a generator in the same state as the one ``sample`` got tells which of those
        samples are noise, without drawing them.
        """
        return uniform((n,), generator, self._device()) < self.noise_weight

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Each sample is noise with probability w, else a sample of the base model.

        Draw order from ``generator``: the choices (``noise_choice``), the base samples, the noise.
        Discrete noise is uniform on the grid (values x / (L - 1)); continuous noise uniform on [0, 1).
        """
        info = self.base.info
        is_noise = self.noise_choice(n, generator)
        samples = self.base.sample(n, generator)
        noise = uniform((n, *info.data_shape), generator, samples.device)
        if info.discrete:
            noise = torch.floor(noise * info.levels).clamp(max=info.levels - 1) / (info.levels - 1)
        return torch.where(is_noise.to(samples.device).view(-1, 1, 1, 1), noise.to(samples.dtype), samples)

    def _device(self) -> torch.device:
        parameter = next(self.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

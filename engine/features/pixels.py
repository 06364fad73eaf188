"""`pixels`: flattened display values, optionally through a fixed random projection.

With ``dim=d`` the C*H*W values are multiplied by a Gaussian matrix (entries N(0, 1/d), drawn
from ``seed``; Johnson-Lindenstrauss: distances are kept up to a factor 1 +- O(1/sqrt(d))). The
matrix depends only on (C*H*W, d, seed), so every run and machine uses the same one.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from ..errors import GenLoupeError
from .extractor import FeatureExtractor
from .layers import linear64

NAME = "pixels"


class Pixels(nn.Module):
    """(N, C, H, W) -> (N, C*H*W), or (N, dim) after the seeded projection."""

    def __init__(self, dim: int | None, seed: int) -> None:
        super().__init__()
        self.dim = dim
        self.seed = seed
        self._projections: dict[tuple[int, torch.device], torch.Tensor] = {}

    def projection(self, inputs: int, device: torch.device) -> torch.Tensor:
        key = (inputs, device)
        if key not in self._projections:
            rng = np.random.default_rng([self.seed, inputs, self.dim])
            matrix = rng.standard_normal((self.dim, inputs)) / np.sqrt(self.dim)
            self._projections[key] = torch.from_numpy(matrix).to(device)  # float64, as linear64 sums
        return self._projections[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = torch.flatten(x, 1)
        if self.dim is None:
            return flat
        return linear64(flat, self.projection(flat.shape[1], flat.device))


def load(dim: int | None = None, seed: int = 0) -> FeatureExtractor:
    """Raw pixels (``dim=None``) or their projection to ``dim`` dimensions."""
    if dim is not None and (isinstance(dim, bool) or int(dim) != dim or dim < 1):
        raise GenLoupeError(f"pixels: dim must be a positive integer, got {dim!r}")
    dim = None if dim is None else int(dim)
    if dim is None:
        preprocessing = "display values x/(L-1) in [0,1], flattened"
    else:
        preprocessing = f"display values x/(L-1) in [0,1], flattened, Gaussian projection to {dim} dims (seed {seed})"
    return FeatureExtractor(
        name=NAME,
        module=Pixels(dim, int(seed)),
        weights_hash=hashlib.sha256(preprocessing.encode()).hexdigest(),
        preprocessing=preprocessing,
        default_batch_size=4096,
    )

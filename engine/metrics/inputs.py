"""Feature arrays in (numpy or torch, any device) → validated torch tensors on the compute device."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import MetricError


def as_features(x: Any, name: str, device: torch.device, min_rows: int = 1) -> torch.Tensor:
    """A finite (N, d) float tensor on ``device``: float64 stays float64, everything else becomes float32."""
    if isinstance(x, torch.Tensor):
        tensor = x.detach()
    else:
        tensor = torch.as_tensor(np.ascontiguousarray(np.asarray(x)))
    if tensor.ndim != 2:
        raise MetricError(f"{name} must be a 2-D (N, d) array, got shape {tuple(tensor.shape)}")
    if tensor.shape[0] < min_rows or tensor.shape[1] < 1:
        raise MetricError(f"{name} needs at least {min_rows} rows and 1 column, got shape {tuple(tensor.shape)}")
    if tensor.dtype != torch.float64:
        tensor = tensor.to(torch.float32)
    tensor = tensor.to(device).contiguous()
    # a finite sum means every value is finite (NaN and ±inf propagate), at a fortieth of the cost of an
    # element-wise test, which only a sum that overflowed or met NaN or ±inf still needs
    if not math.isfinite(float(tensor.sum())) and not bool(torch.isfinite(tensor).all()):
        raise MetricError(f"{name} contains NaN or infinite values")
    return tensor


def check_same_dim(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"real and generated features differ in dimension: {real.shape[1]} vs {fake.shape[1]}")


def check_k(k: int, n: int, name: str) -> None:
    """A k-NN radius needs k other points in the same set."""
    if k < 1:
        raise MetricError(f"k must be at least 1, got {k}")
    if n <= k:
        raise MetricError(f"{name} has {n} samples: k={k} nearest neighbours need at least {k + 1}")

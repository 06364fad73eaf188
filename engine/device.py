"""Device choice (auto, cpu, cuda:N) and out-of-memory back-off."""

from __future__ import annotations

import torch

from .errors import GenLoupeError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn 'auto', 'cpu', 'cuda' or 'cuda:N' into a usable torch.device."""
    if isinstance(spec, torch.device):
        return spec
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenLoupeError(f"device {spec!r} requested but CUDA is not available; use --device cpu")
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GenLoupeError(f"device {spec!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
        return device
    raise GenLoupeError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N")


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA (and CPU allocator) out-of-memory errors, on which batch size should halve."""
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()

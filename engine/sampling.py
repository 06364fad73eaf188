"""Draw samples from a model and quantize them to the data's L levels, as saving a PNG would."""

from __future__ import annotations

import numpy as np
import torch

from .blocks import block_generator, run_blocks
from .device import resolve_device
from .errors import ModelError
from .models.base import GenerativeModel
from .progress import Progress, null_progress


def quantize(values: torch.Tensor, levels: int) -> torch.Tensor:
    """Values in [0, 1] to integer levels 0..L-1 by rounding (clipped first)."""
    return torch.round(values.clamp(0.0, 1.0) * (levels - 1)).to(torch.int32)


def draw_samples(
    model: GenerativeModel,
    n: int,
    *,
    seed: int = 0,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    progress: Progress | None = None,
) -> np.ndarray:
    """n samples as integer levels (n, C, H, W), the same for any batch size given ``seed``."""
    info = model.info
    progress = progress or null_progress()
    target = resolve_device(device)
    if isinstance(model, torch.nn.Module):
        model = model.to(target).eval()
    dtype = np.uint8 if info.levels <= 256 else np.uint16

    def compute(batch: list[tuple[int, int, int]]) -> np.ndarray:
        out = []
        for block, start, stop in batch:
            values = model.sample(stop - start, generator=block_generator(seed, block, target))
            expected = (stop - start, *info.data_shape)
            if not isinstance(values, torch.Tensor) or tuple(values.shape) != expected:
                got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
                raise ModelError(f"{info.name}: sample returned {got}; expected {expected}")
            if not torch.isfinite(values).all():
                raise ModelError(f"{info.name}: sample returned NaN or infinite values")
            out.append(quantize(values, info.levels).cpu().numpy().astype(dtype))
        return np.concatenate(out)

    with torch.inference_mode():
        samples = run_blocks(n, batch_size, compute, progress, "sampling")
    return samples.reshape((n, *info.data_shape)).astype(dtype, copy=False)

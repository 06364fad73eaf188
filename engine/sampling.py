"""Draw samples from a model and quantize them to the data's L levels, as saving an image would.

Quantization inverts the map the model's values live on, so a sample is scored in the bin it came
from: a discrete model's values (and a likelihood-free generator's, trained on grid values) are the
grid x / (L-1), rounded back as saving an 8-bit PNG would; a continuous density lives on dequantized
y = (x + u) / L, whose bin [x/L, (x+1)/L) gives x = floor(y L).
(Rounding y (L-1) instead would move a quarter of the pixels of a 17-level density's samples to a
neighbouring level, and score its own samples far below where they came from.)
"""

from __future__ import annotations

import numpy as np
import torch

from .blocks import block_generator, run_blocks
from .device import resolve_device
from .errors import ModelError
from .models.base import GenerativeModel, ModelInfo
from .progress import Progress, null_progress


def on_grid(info: ModelInfo) -> bool:
    """Whether a model's samples are grid values x / (L-1): discrete models, and likelihood-free
    generators (GANs, ONNX generators, sample bundles), which are trained on or store grid values."""
    return info.discrete or info.likelihood == "none"


def quantize(values: torch.Tensor, levels: int, grid: bool) -> torch.Tensor:
    """Values in [0, 1] to integer levels 0..L-1 (see the module docstring), clipped first."""
    values = values.clamp(0.0, 1.0)
    if grid:
        return torch.round(values * (levels - 1)).to(torch.int32)
    return torch.floor(values * levels).clamp(max=levels - 1).to(torch.int32)


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
            out.append(quantize(values, info.levels, on_grid(info)).cpu().numpy().astype(dtype))
        return np.concatenate(out)

    with torch.inference_mode():
        samples = run_blocks(n, batch_size, compute, progress, "sampling")
    return samples.reshape((n, *info.data_shape)).astype(dtype, copy=False)

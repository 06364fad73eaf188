"""Pillow's bicubic resize of 8-bit images, bit for bit, as torch matrix products.

dgm-eval feeds DINOv2 8-bit images resized by Pillow (``Image.resize(..., BICUBIC)``): a separable
filter (Keys cubic, a = -0.5, widened by the scale when shrinking, i.e. antialiased) whose weights
are rounded to 22-bit fixed point; the horizontal pass runs first and is rounded to 8 bits, then
the vertical pass. This module computes the same weights as Pillow's ``precompute_coeffs`` and
``normalize_coeffs_8bpc`` (src/libImaging/Resample.c) and applies them in float64, where the integer
sums are exact, so the output equals Pillow's on CPU and GPU alike (tests/engine compare the two).
Horizontal first, as Pillow through 12.x (and dgm-eval's pinned 9.2) always does; Pillow 13 picks the
order by cost for some non-square downsizings, where a few pixels can then differ by one level.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

PRECISION_BITS = 32 - 8 - 2
SUPPORT = 2.0  # the bicubic filter's support at scale 1


def _bicubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@functools.lru_cache(maxsize=16)
def fixed_point_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) integer weights of one pass, each row summing to about 2**22."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = SUPPORT * filterscale
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)  # C's (int) truncates toward zero, as int() does
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [_bicubic((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        total = sum(k)  # summed left to right, as the C loop does
        for x, w in enumerate(k):
            w = w / total if total != 0.0 else w
            weights[xx, xmin + x] = math.trunc(w * (1 << PRECISION_BITS) + (-0.5 if w < 0 else 0.5))
    return weights


def _pass(x: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
    """One pass along the last axis of integer images held in float64; rounds and clips to 0..255."""
    w = torch.from_numpy(weights).to(x.device)
    sums = torch.matmul(x, w.T) + (1 << (PRECISION_BITS - 1))
    return torch.floor(sums / (1 << PRECISION_BITS)).clamp_(0, 255)


def resize_bicubic_uint8(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Pillow's ``resize((w, h), BICUBIC)`` of 8-bit images (N, C, H, W) held as any dtype; float64 out, 0..255.

    ``size`` is (height, width). Pillow copies an image already at that size, so that is returned as is.
    """
    height, width = size
    x = images.to(torch.float64)
    if tuple(x.shape[-2:]) == (height, width):
        return x
    if x.shape[-1] != width:  # Pillow skips a pass that changes nothing
        x = _pass(x, fixed_point_weights(x.shape[-1], width))
    if x.shape[-2] != height:
        x = _pass(x.transpose(-1, -2), fixed_point_weights(x.shape[-2], height)).transpose(-1, -2)
    return x

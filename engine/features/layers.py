"""Dense layers whose output does not depend on the batch size.

CPU BLAS (and cuBLAS) pick different kernels for different numbers of rows, so a float32 matrix
product of one image can differ in its last bits with the batch it came in. Summing in float64
and rounding back to float32 removes that (the float64 differences, ~1e-16, vanish in the
rounding), at a cost that is small next to the convolutions.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def linear64(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` summed in float64, returned in the input's dtype."""
    return F.linear(x.double(), weight.double(), None if bias is None else bias.double()).to(x.dtype)


"""Linear algebra for the metrics: full float32/float64 precision, NumPy's BLAS and LAPACK on the CPU.

On the CPU, torch's build links MKL, which on AMD processors runs large float32 products 2-4x slower than
the OpenBLAS that NumPy ships, and its symmetric eigensolver 1.5-3x slower plus a ~0.7 s first call
(measured on this project's machines); the arithmetic is the same IEEE arithmetic. So 2-D CPU products
and eigenvalue problems go through NumPy on zero-copy views (and the pivoted Cholesky, which NumPy lacks,
through SciPy's LAPACK). Batched (3-D) products stay with torch:
NumPy's stacked matmul runs its small per-matrix calls erratically slowly when the cores are busy.
NumPy and SciPy each ship their own OpenBLAS: a loop that alternates between the two (or with torch's
OpenMP pool) on few cores runs every call up to twice as long while the other's idle threads spin, so one
loop's products stay in one library (KID's rank-k updates are SciPy's, hence all of KID's products are);
processes that import GenLoupe first also have the spinning cut short (engine/threads.py).
On CUDA, TF32 would round operands to 10 mantissa bits and break the error bounds the k-NN code relies
on, so it is switched off while the metrics run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from scipy.linalg.lapack import dpstrf


@contextmanager
def full_precision_matmul() -> Iterator[None]:
    """IEEE float32 matrix products (no TF32, no bf16) for the duration; process-wide, restored after."""
    backends = [
        backend
        for backend in (torch.backends.cuda.matmul, getattr(torch.backends.mkldnn, "matmul", None))
        if backend is not None and hasattr(backend, "fp32_precision")
    ]
    saved = [backend.fp32_precision for backend in backends]
    for backend in backends:
        backend.fp32_precision = "ieee"
    try:
        yield
    finally:
        for backend, value in zip(backends, saved):
            backend.fp32_precision = value


def matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b`` (2-D or batched 3-D), into ``out`` (contiguous) when given."""
    if a.device.type != "cpu" or a.ndim != 2:
        return torch.matmul(a, b, out=out)
    if out is None:
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    np.matmul(a.numpy(), b.numpy(), out=out.numpy())
    return out


def eigvalsh(a: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a symmetric matrix, ascending; only the lower triangle is read (on both devices)."""
    if a.device.type != "cpu":
        return torch.linalg.eigvalsh(a, UPLO="L")
    return torch.from_numpy(np.linalg.eigvalsh(a.numpy(), UPLO="L"))


def above_rounding_floor(values: torch.Tensor) -> torch.Tensor:
    """Which eigenvalues of an n × n PSD matrix exceed its rounding floor n·ε·λ_max (the rest are 0 up to
    rounding, and their square roots would add √ε-sized noise)."""
    return values > values.shape[0] * torch.finfo(values.dtype).eps * float(values.abs().max())


def psd_factor(a: torch.Tensor) -> torch.Tensor:
    """F (n × r) with ``a`` = F Fᵀ up to rounding, for a symmetric positive semi-definite matrix of
    numerical rank r: a Cholesky factor when ``a`` is positive definite, a rank-revealing one when it is
    singular. On the CPU LAPACK's pivoted Cholesky does both at n³/3 operations (it stops where the
    remaining diagonal falls below n·u·its largest entry). torch has no pivoted Cholesky, so a GPU tries
    the plain one and falls back to V Λ^½ over the eigenvalues above the rounding floor n·ε·λ_max (9n³)."""
    if a.device.type != "cpu":
        factor, info = torch.linalg.cholesky_ex(a)
        if int(info) == 0:
            return factor
        values, vectors = torch.linalg.eigh(a)
        keep = above_rounding_floor(values)
        return vectors[:, keep] * values[keep].sqrt()
    factor, pivots, rank, info = dpstrf(a.numpy(), lower=1)
    if info < 0:
        raise ValueError(f"pivoted Cholesky: argument {-info} is invalid")
    lower = factor.T  # row-major view of the Fortran-ordered result: row j holds column j of L
    for j in range(rank):
        lower[j, :j] = 0.0  # above L's diagonal LAPACK leaves the input's entries
    out = np.empty((a.shape[0], rank))
    out[pivots - 1] = lower[:rank].T  # a[p][:, p] = L Lᵀ, so a = F Fᵀ with F's rows unpermuted
    return torch.from_numpy(out)

"""Per-sample log-likelihood of discrete images, on one scale for every model.

The engine reports log P(x) of the *discrete* image x on L levels, in nats, and
bits/dim = -log P(x) / (D ln 2):

- discrete models (``info.discrete``) give log P(x) directly from ``log_prob(x / (L-1))``;
- continuous densities are evaluated on dequantized inputs y = (x + u) / L, u ~ U[0,1)^D, over
  K draws. ``log_px_plain`` = mean_k log p(y_k) - D ln L (the plain bound) and ``log_px`` =
  logmeanexp_k log p(y_k) - D ln L (the importance-weighted bound, tighter); both are lower
  bounds of log P(x) (Jensen), exact in K -> infinity only for the second;
- bound models (VAE heads) give IWAE-K estimates, labelled as bounds with their K.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .blocks import BOUND, DEQUANTIZATION, block_generator, run_blocks
from .device import resolve_device
from .data.checks import levels_mismatch
from .errors import DataError, ModelError
from .models.base import GenerativeModel, supports_per_dim
from .progress import Progress, null_progress

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Convention:
    """Everything needed to read a likelihood number: levels, D, dequantization, bound type, K."""

    levels: int
    dims: int
    discrete: bool
    kind: str  # 'exact' (the model's own estimate is exact) or 'lower_bound'
    estimator: str
    dequantization: str  # 'none' or 'uniform'
    k_dequantization: int | None
    k_bound: int | None
    seed: int

    @property
    def is_bound(self) -> bool:
        """Whether the reported log P(x) is a lower bound rather than exact."""
        return self.kind == "lower_bound" or self.dequantization != "none"

    def describe(self) -> str:
        """One line to print next to every number (the kind in :func:`likelihood_words`' words)."""
        words = likelihood_words(discrete=self.discrete and self.dequantization == "none", kind=self.kind,
                                 estimator=self.estimator, k_bound=self.k_bound, k_dequantization=self.k_dequantization)
        return f"log P(x) of the discrete image, {self.levels} levels, D={self.dims}; {words}"

    def short(self) -> str:
        """A few words for plot titles: levels, D and what kind of number it is."""
        if self.kind == "lower_bound":
            kind = f"{self.estimator}{f'-{self.k_bound}' if self.k_bound else ''} bound"
        else:
            kind = "exact"
        if self.dequantization != "none":
            kind = f"density {kind}, log P(x) bound (dequantized K={self.k_dequantization})"
        return f"{self.levels} levels · D={self.dims} · {kind}"

    def to_dict(self) -> dict:
        return {**asdict(self), "description": self.describe(), "short": self.short()}


def likelihood_words(*, discrete: bool, kind: str, estimator: str, k_bound: int | None = None,
                     k_dequantization: int | None = None) -> str:
    """How exact a likelihood is, in the same words in ``info``, the JSON, the report and the window.

    A continuous density can be exact (a flow's change of variables) while log P(x) of the discrete image,
    reached through dequantization, is a lower bound: both are said, density first.
    """
    if kind == "none":
        return "none (samples only)"
    named = f"{estimator}-{k_bound}" if kind == "lower_bound" and k_bound else estimator
    own = f"exact ({named})" if kind == "exact" else f"lower bound ({named})"
    if discrete:
        return f"log P(x) {own}"
    draws = f", importance-weighted over K={k_dequantization} draws" if k_dequantization else ""
    return f"density {own}; log P(x) lower bound (uniform dequantization{draws})"


@dataclass(frozen=True)
class LikelihoodResult:
    log_px: np.ndarray  # (N,) float64 nats, the reported (tightest) value
    log_px_plain: np.ndarray | None  # (N,) plain dequantization bound, continuous models only
    per_dim_bits: np.ndarray | None  # (N, C, H, W) bits per dimension, where the model gives them
    convention: Convention

    @property
    def bpd(self) -> np.ndarray:
        return -self.log_px / (self.convention.dims * LN2)

    @property
    def mean_nats(self) -> float:
        return float(np.mean(self.log_px))

    @property
    def mean_bpd(self) -> float:
        return float(np.mean(self.bpd))


def evaluate_likelihood(
    model: GenerativeModel,
    images: np.ndarray,
    levels: int,
    *,
    k_deq: int = 8,
    k_bound: int | None = None,
    seed: int = 0,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    per_dim: bool = False,
    progress: Progress | None = None,
) -> LikelihoodResult:
    """log P(x) per image (see the module docstring), batched, deterministic for ``seed``.

    Raises ModelError when the model has no likelihood, disagrees with the data's shape or levels,
    or returns non-finite values (naming how many and which).
    """
    info = model.info
    progress = progress or null_progress()
    _check_inputs(info, images, levels)
    if k_deq < 1 or (k_bound is not None and k_bound < 1):
        raise ModelError("the number of draws K must be at least 1")
    target = resolve_device(device)
    if isinstance(model, torch.nn.Module):
        model = model.to(target).eval()
    is_bound = info.likelihood == "lower_bound"
    k_bound = (k_bound or info.bound_k or 64) if is_bound else None
    k = 1 if info.discrete else k_deq
    want_per_dim = per_dim and supports_per_dim(model)
    dims, ln_levels = info.dims, math.log(levels)

    offset = 0.0 if info.discrete else dims * ln_levels

    def model_inputs(block: int, start: int, stop: int) -> torch.Tensor:
        """(k * B, C, H, W) inputs of one block: grid values, or K dequantization draws."""
        x = torch.as_tensor(images[start:stop], device=target).to(torch.float32)
        if info.discrete:
            return x / (levels - 1)
        u = torch.rand((k, *x.shape), generator=block_generator(seed, block, target, DEQUANTIZATION), device=target)
        return ((x + u) / levels).reshape(-1, *x.shape[1:])

    def compute(batch: list[tuple[int, int, int]]) -> np.ndarray:
        inputs = [model_inputs(*entry) for entry in batch]
        if is_bound:  # stochastic estimator: its draws come from each block's own generator
            parts = [
                _log_prob(model, y, block_generator(seed, block, target, BOUND), k_bound)
                for (block, _, _), y in zip(batch, inputs)
            ]
        else:
            parts = _split_like(_log_prob(model, torch.cat(inputs), None, None), inputs)
        lp = torch.cat([part.reshape(k, -1) for part in parts], 1)  # (k, n)
        table = torch.stack([torch.logsumexp(lp, 0) - math.log(k) - offset, lp.mean(0) - offset], 1)
        if want_per_dim:
            per_dim = _split_like(model.log_prob_per_dim(torch.cat(inputs)).to(torch.float64), inputs)
            per_dim_lp = torch.cat([part.reshape(k, len(part) // k, -1) for part in per_dim], 1).mean(0)
            table = torch.cat([table, -(per_dim_lp - (0.0 if info.discrete else ln_levels)) / LN2], 1)
        return table.cpu().numpy()

    with torch.inference_mode():
        table = run_blocks(len(images), batch_size, compute, progress, "likelihood")
    log_px, plain = table[:, 0], table[:, 1]
    _check_finite(log_px, info.name)
    convention = Convention(
        levels=levels,
        dims=dims,
        discrete=info.discrete,
        kind="lower_bound" if is_bound else "exact",
        estimator=info.estimator,
        dequantization="none" if info.discrete else "uniform",
        k_dequantization=None if info.discrete else k_deq,
        k_bound=k_bound,
        seed=seed,
    )
    return LikelihoodResult(
        log_px=log_px,
        log_px_plain=None if info.discrete else plain,
        per_dim_bits=table[:, 2:].reshape((len(images), *info.data_shape)) if want_per_dim else None,
        convention=convention,
    )


def _split_like(values: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Split a batched output back into the per-block pieces its inputs were concatenated from."""
    return list(torch.split(values, [len(y) for y in inputs]))


def _log_prob(
    model: GenerativeModel, y: torch.Tensor, generator: torch.Generator | None, k_bound: int | None
) -> torch.Tensor:
    """The model's log_prob as float64, checked to be one value per input."""
    out = model.log_prob(y, generator=generator, k=k_bound) if k_bound else model.log_prob(y)
    n = len(y)
    if not isinstance(out, torch.Tensor) or out.shape != (n,):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"{model.info.name}: log_prob returned {shape} for a batch of {n}; expected ({n},)")
    return out.to(torch.float64)


def _check_inputs(info, images: np.ndarray, levels: int) -> None:
    if info.likelihood == "none":
        raise ModelError(f"{info.name} has no tractable likelihood (kind 'none'); score its samples under another model")
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(info.data_shape):
        raise DataError(f"data of shape {tuple(images.shape[1:])} do not fit {info.name}, which expects {tuple(info.data_shape)}")
    if levels != info.levels:
        raise levels_mismatch(info.name, info.levels, "the data", levels)


def _check_finite(log_px: np.ndarray, name: str) -> None:
    bad = np.flatnonzero(~np.isfinite(log_px))
    if len(bad):
        shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
        raise ModelError(f"{name} returned NaN or infinite log-likelihood for {len(bad)} of {len(log_px)} samples (indices {shown})")

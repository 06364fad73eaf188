"""Models given as programs of explicit noise: export bundles, TorchScript archives, ONNX generators.

A :class:`ProgramModel` draws each noise input from the caller's generator (see :mod:`.noise`),
runs the programs in batches of their static size when they have one (padding the last batch),
and maps between the engine's [0, 1] and the model's own space (see :mod:`.bundle_meta`).
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import torch
from torch import nn

from ..errors import ModelError
from ..models.base import ModelInfo
from .bundle_meta import BundleMeta
from .noise import NoiseSpec, draw_noise


class Program(Protocol):
    """One runnable function of tensors with an optional static batch size."""

    batch: int | None  # every call takes exactly this many samples; None: any number

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor: ...

    def moved(self, device: torch.device) -> "Program": ...


def _pad(part: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Fill a short last batch up to ``size`` along ``dim`` with copies of its first entry."""
    missing = size - part.shape[dim]
    if missing == 0:
        return part
    index = torch.zeros(missing, dtype=torch.long, device=part.device)
    return torch.cat([part, part.index_select(dim, index)], dim)


def run_batched(program: Program, inputs: Sequence[torch.Tensor], batch_dims: Sequence[int], n: int,
                per_sample: tuple[int, ...], what: str) -> torch.Tensor:
    """Run ``program`` on n samples whose batch lies along ``batch_dims`` of the inputs.

    Outputs must be (batch, *per_sample); a program that returns anything else is named here,
    before any transform could turn the mistake into a confusing broadcast error.
    """
    size = program.batch or n
    outputs = []
    for start in range(0, n, size):
        count = min(size, n - start)
        parts = [_pad(t.narrow(d, start, count), d, size) for t, d in zip(inputs, batch_dims)]
        out = program(*parts)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (size, *per_sample):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelError(f"{what} returned {got} for a batch of {size}; expected {(size, *per_sample)}")
        outputs.append(out[:count])
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


class ProgramModel(nn.Module):
    """The protocol model of a sampler program and an optional log-density program."""

    def __init__(self, meta: BundleMeta, sample: Program, log_prob: Program | None, *,
                 parameter_count: int | None, format_name: str) -> None:
        super().__init__()
        self.meta = meta
        self.programs = {"sample": sample, "log_prob": log_prob}
        self.parameter_count = parameter_count
        self.info: ModelInfo = meta.info(format=format_name)
        self._device = torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> "ProgramModel":
        """Follow ``.to(device)``: programs are moved (not their dtype), whatever module holds this one."""
        device = fn(torch.zeros(0)).device
        if device != self._device:
            self.programs = {k: p.moved(device) if p is not None else None for k, p in self.programs.items()}
            self._device = device
        return self

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        specs = self.meta.sample_noise
        noise = draw_noise(specs, n, generator, self._device)
        out = run_batched(self.programs["sample"], noise, [s.batch_dim for s in specs], n, self.meta.data_shape,
                          f"{self.info.name}: sample")
        return self.meta.transform.to_unit(out)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        program = self.programs["log_prob"]
        if program is None:
            raise ModelError(f"{self.info.name} has no likelihood (kind 'none'); score its samples under another model")
        if k is not None and k != self.meta.bound_k:
            raise ModelError(f"{self.info.name} was exported with K={self.meta.bound_k} draws per estimate, not K={k}; "
                             "export it again with `genloupe export --k`")
        specs: tuple[NoiseSpec, ...] = self.meta.log_prob_noise
        noise = draw_noise(specs, len(y), generator, self._device)
        out = run_batched(program, [self.meta.transform.to_model(y), *noise], [0, *(s.batch_dim for s in specs)],
                          len(y), (), f"{self.info.name}: log_prob")
        return out if self.meta.discrete else out + self.meta.transform.log_det(y).to(out.dtype)

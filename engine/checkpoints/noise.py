"""Explicit noise: how GenLoupe seeds models that were exported as pure functions of their noise.

An exported sampler takes its noise as inputs; ``meta.json`` lists each input's distribution and
shape, and :func:`draw_noise` draws them in order from the caller's generator. For zoo models the
exporter finds that list by *recording* the random draws of ``model.sample`` (and of a stochastic
``log_prob``), then traces the model while *replaying* the inputs in place of those draws. The
loader draws exactly what the model would have drawn, so an exported model gives the same samples
and the same bound estimates for the same seed as the model it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import torch
from torch.overrides import TorchFunctionMode

from ..errors import CheckpointError, ModelError
from .user_code import caller_location

Distribution = Literal["normal", "uniform"]
DRAW = {"normal": torch.randn, "uniform": torch.rand}
DISTRIBUTION_OF = {torch.randn: "normal", torch.rand: "uniform"}
# Random functions a recording cannot turn into explicit noise inputs.
UNSUPPORTED = {"randint", "randn_like", "rand_like", "randint_like", "randperm", "multinomial", "normal", "bernoulli",
               "poisson", "normal_", "uniform_", "bernoulli_", "exponential_", "random_", "cauchy_", "geometric_",
               "log_normal_"}


@dataclass(frozen=True)
class NoiseSpec:
    """One noise input: ``shape`` per sample, with the batch inserted at ``batch_dim``."""

    distribution: Distribution
    shape: tuple[int, ...]
    batch_dim: int = 0

    def full_shape(self, n: int) -> tuple[int, ...]:
        return self.shape[: self.batch_dim] + (n,) + self.shape[self.batch_dim :]

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "shape": list(self.shape), "batch_dim": self.batch_dim}


def draw_noise(specs: Sequence[NoiseSpec], n: int, generator: torch.Generator | None,
               device: torch.device) -> list[torch.Tensor]:
    """The noise inputs for n samples, drawn in order on the generator's device (as the zoo draws)."""
    where = generator.device if generator is not None else device
    return [DRAW[spec.distribution](spec.full_shape(n), generator=generator, device=where).to(device) for spec in specs]


def _requested_shape(args: tuple, kwargs: dict) -> tuple[int, ...]:
    if "size" in kwargs:
        return tuple(kwargs["size"])
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(args[0])
    return tuple(args)


class _RandomCalls(TorchFunctionMode):
    """Intercepts torch.randn / torch.rand; refuses random functions that cannot become inputs."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in DISTRIBUTION_OF:
            return self.draw(func, args, kwargs)
        if getattr(func, "__name__", "") in UNSUPPORTED:
            where = caller_location()
            raise CheckpointError(
                f"the model draws noise with {func.__name__}{f' at {where}' if where else ''}, which an export cannot "
                "take as an input; draw with torch.randn or torch.rand (uniform) instead"
            )
        return func(*args, **kwargs)

    def draw(self, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        raise NotImplementedError


class _Record(_RandomCalls):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Distribution, tuple[int, ...]]] = []

    def draw(self, func, args, kwargs):
        out = func(*args, **kwargs)
        self.calls.append((DISTRIBUTION_OF[func], tuple(out.shape)))
        return out


class Replay(_RandomCalls):
    """Hands out the given tensors, in order, in place of torch.randn / torch.rand draws."""

    def __init__(self, noise: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.noise = list(noise)

    def draw(self, func, args, kwargs):
        if not self.noise:
            raise ModelError("the model drew more noise than it did when its draws were recorded")
        value = self.noise.pop(0)
        if tuple(value.shape) != _requested_shape(args, kwargs):
            raise ModelError(f"the model drew noise of shape {_requested_shape(args, kwargs)}, "
                             f"recorded as {tuple(value.shape)}")
        return value.to(device=kwargs.get("device") or value.device, dtype=kwargs.get("dtype") or value.dtype)


def record_noise(draws: Callable[[int, torch.Generator], Any], batch: int) -> list[NoiseSpec]:
    """The noise inputs of ``draws(n, generator)``: its random calls at n = batch and n = batch - 1.

    A call's batch dimension is the one that follows n; the calls must not otherwise depend on n.
    """
    if batch < 2:
        raise CheckpointError("export needs a batch of at least 2 to find the noise's batch dimension")
    runs = []
    for n in (batch, batch - 1):
        recorder = _Record()
        with recorder:
            draws(n, torch.Generator().manual_seed(0))
        runs.append(recorder.calls)
    if [d for d, _ in runs[0]] != [d for d, _ in runs[1]]:
        raise CheckpointError("the model draws a different number of noise tensors for different batch sizes")
    specs = []
    for (distribution, big), (_, small) in zip(*runs):
        differ = [i for i, (a, b) in enumerate(zip(big, small)) if a != b]
        if len(big) != len(small) or len(differ) != 1 or big[differ[0]] != batch or small[differ[0]] != batch - 1:
            raise CheckpointError(f"noise of shape {big} is not drawn per sample (batch {batch}), "
                                  "so it cannot be exported")
        dim = differ[0]
        specs.append(NoiseSpec(distribution, big[:dim] + big[dim + 1 :], dim))
    return specs

"""What ``open_model`` hands out: any loaded model, wrapped so that it cannot fail silently.

Every output is checked (a tensor, the right shape, finite); a bad one raises ModelError saying how
many values were NaN or infinite and where. Each model is also probed once on a tiny batch when it
is opened, so a file whose graph contradicts its metadata, or whose weights are NaN, is refused at
the door rather than in the middle of an evaluation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import GenLoupeError, ModelError
from ..models.base import GenerativeModel, ModelInfo
from .safety import one_line

PROBE_N = 2


def check_output(out: Any, expected: tuple[int, ...], what: str) -> torch.Tensor:
    """``out`` if it is a float tensor of shape ``expected`` with finite values, else ModelError."""
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"{what} returned {type(out).__name__}, not a tensor")
    if tuple(out.shape) != expected:
        raise ModelError(f"{what} returned shape {tuple(out.shape)}; expected {expected}")
    if not out.is_floating_point():
        raise ModelError(f"{what} returned {out.dtype} values; expected floats")
    finite = torch.isfinite(out)
    if not bool(finite.all()):
        nan = int(torch.isnan(out).sum())
        inf = out.numel() - int(finite.sum()) - nan
        rows = torch.nonzero(~finite.reshape(len(out), -1).all(1)).flatten().tolist()
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise ModelError(f"{what} returned {nan} NaN and {inf} infinite values out of {out.numel()} "
                         f"({len(rows)} of {len(out)} samples: {shown})")
    return out


class LoadedModel(nn.Module):
    """A protocol model with checked outputs and its provenance in ``info.extra``."""

    def __init__(self, model: GenerativeModel, info: ModelInfo, parameter_count: int | None) -> None:
        super().__init__()
        self.model = model  # registered as a submodule when it is an nn.Module, so .to() moves it
        self.info = info
        self.parameter_count = parameter_count

    @property
    def device(self) -> torch.device:
        return getattr(self.model, "device", torch.device("cpu"))

    @property
    def stored(self) -> Any:
        """A sample bundle's own samples and log-likelihoods (``StoredSamples``); None for real models."""
        return getattr(self.model, "stored", None)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        out = self.model.sample(n, generator)
        return check_output(out, (n, *self.info.data_shape), f"{self.info.name}: sample")

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        if self.info.likelihood == "none":
            raise ModelError(f"{self.info.name} has no likelihood (kind 'none'); score its samples under another model")
        if k is not None:
            out = self.model.log_prob(y, generator=generator, k=k)
        elif generator is not None:
            out = self.model.log_prob(y, generator=generator)
        else:
            out = self.model.log_prob(y)
        return check_output(out, (len(y),), f"{self.info.name}: log_prob")

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        method = getattr(self.model, "log_prob_per_dim", None)
        if not self.info.per_dim or method is None:
            raise ModelError(f"{self.info.name} gives no per-dimension log-likelihoods")
        return check_output(method(y), tuple(y.shape), f"{self.info.name}: log_prob_per_dim")


def probe_inputs(info: ModelInfo, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Inputs in the engine's convention: grid values x/(L-1) for discrete models, (x+u)/L otherwise."""
    x = torch.randint(0, info.levels, (n, *info.data_shape), generator=generator).to(torch.float32)
    y = x / (info.levels - 1) if info.discrete else (x + torch.rand(x.shape, generator=generator)) / info.levels
    return y.to(device)


def parameter_count(model: Any) -> int | None:
    """Parameters of a model: what its loader counted (None: unknown), else those of an nn.Module."""
    if hasattr(model, "parameter_count"):
        return model.parameter_count
    if isinstance(model, nn.Module):
        return sum(p.numel() for p in model.parameters())
    return None


def checked_model(model: GenerativeModel, extra: dict[str, Any], *, probe: bool = True) -> LoadedModel:
    """Wrap ``model``, add ``extra`` to its info, and probe it: sample and log_prob on a tiny batch
    (``probe=False``: the caller already probed it, in a limited child process)."""
    info = getattr(model, "info", None)
    if not isinstance(info, ModelInfo) or not callable(getattr(model, "sample", None)) \
            or not callable(getattr(model, "log_prob", None)):
        origin = Path(extra["source"]).name + " gave " if "source" in extra else ""
        raise ModelError(f"{origin}{type(model).__name__}, which is not a GenLoupe model: it needs info (ModelInfo), "
                         "sample and log_prob")
    count = parameter_count(model)
    loaded = LoadedModel(model, replace(info, extra={**info.extra, **extra, "parameters": count}), count)
    if not probe:
        return loaded
    generator = torch.Generator().manual_seed(0)
    try:
        with torch.inference_mode():
            loaded.sample(PROBE_N, torch.Generator(device=loaded.device).manual_seed(0))
            if info.likelihood != "none":
                loaded.log_prob(probe_inputs(info, PROBE_N, generator, loaded.device),
                                torch.Generator(device=loaded.device).manual_seed(0))
    except GenLoupeError:
        raise
    except Exception as error:  # a user's or a file's code failed: report it, never crash
        raise ModelError(f"{info.name}: failed on a probe batch ({type(error).__name__}: {one_line(error)})") from None
    return loaded

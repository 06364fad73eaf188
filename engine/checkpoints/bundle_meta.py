"""meta.json of export bundles (and of TorchScript and ONNX models): what the programs compute.

The engine's convention is fixed (images in [0, 1], see ``models/base.py``); a model may work in
its own space. ``transform`` says which: ``affine`` maps [0, 1] onto ``range`` (data in [-1, 1] is
common), ``logit`` takes s = a + (1 - 2a) y to logit(s). The loader maps inputs into the model's
space, maps samples back, and for continuous densities adds the log-Jacobian of the map, so that
log_prob is always the density on [0, 1]^D the engine expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.base import ModelInfo
from .noise import DRAW, NoiseSpec
from .safety import check_image_shape, check_shape

FORMAT = "genloupe-export"
VERSION = 1
KINDS = ("exact", "lower_bound", "none")
MAX_NOISE_PER_SAMPLE = 1 << 24  # elements of one noise input per sample
KEYS = {"format", "version", "name", "family", "data_shape", "levels", "discrete", "likelihood", "estimator",
        "bound_k", "transform", "sample_noise", "log_prob_noise", "source"}


@dataclass(frozen=True)
class Transform:
    """The map from the engine's [0, 1] to the model's own input space."""

    kind: str = "affine"
    low: float = 0.0
    high: float = 1.0
    alpha: float = 0.0

    def to_model(self, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "logit":
            s = self.alpha + (1.0 - 2.0 * self.alpha) * y
            return torch.log(s) - torch.log1p(-s)
        return y if (self.low, self.high) == (0.0, 1.0) else self.low + (self.high - self.low) * y

    def to_unit(self, v: torch.Tensor) -> torch.Tensor:
        if self.kind == "logit":
            return (torch.sigmoid(v) - self.alpha) / (1.0 - 2.0 * self.alpha)
        return v if (self.low, self.high) == (0.0, 1.0) else (v - self.low) / (self.high - self.low)

    def log_det(self, y: torch.Tensor) -> torch.Tensor:
        """log |d to_model / dy| per sample: what a density in the model's space gains on [0, 1]^D."""
        dims = y[0].numel()
        if self.kind == "logit":
            s = self.alpha + (1.0 - 2.0 * self.alpha) * y
            return (math.log(1.0 - 2.0 * self.alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        return torch.full((len(y),), dims * math.log(self.high - self.low), dtype=y.dtype, device=y.device)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "logit":
            return {"kind": "logit", "alpha": self.alpha}
        return {"kind": "affine", "range": [self.low, self.high]}

    @classmethod
    def parse(cls, value: Any, what: str) -> "Transform":
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise CheckpointError(f"{what}: transform must be an object, got {value!r}")
        if value.get("kind") == "logit":
            alpha = value.get("alpha")
            if not isinstance(alpha, (int, float)) or not 0.0 <= alpha < 0.5:
                raise CheckpointError(f"{what}: a logit transform needs 0 <= alpha < 0.5, got {alpha!r}")
            return cls("logit", alpha=float(alpha))
        if value.get("kind") == "affine":
            bounds = value.get("range")
            if (not isinstance(bounds, list) or len(bounds) != 2 or not all(isinstance(b, (int, float)) for b in bounds)
                    or not all(map(math.isfinite, bounds)) or not bounds[0] < bounds[1]):
                raise CheckpointError(f"{what}: an affine transform needs range [low, high] with low < high, "
                                      f"got {bounds!r}")
            return cls("affine", low=float(bounds[0]), high=float(bounds[1]))
        raise CheckpointError(f"{what}: transform kind must be 'affine' or 'logit', got {value.get('kind')!r}")


def _noise_specs(value: Any, what: str) -> tuple[NoiseSpec, ...]:
    if not isinstance(value, list):
        raise CheckpointError(f"{what} must be a list of {{distribution, shape, batch_dim}}")
    specs = []
    for i, entry in enumerate(value):
        where = f"{what}[{i}]"
        if not isinstance(entry, dict) or entry.get("distribution") not in DRAW:
            raise CheckpointError(f"{where}: distribution must be one of {', '.join(DRAW)}")
        shape = check_shape(entry.get("shape"), where, itemsize=1, limit=MAX_NOISE_PER_SAMPLE)
        batch_dim = entry.get("batch_dim", 0)
        if not isinstance(batch_dim, int) or isinstance(batch_dim, bool) or not 0 <= batch_dim <= len(shape):
            raise CheckpointError(f"{where}: batch_dim must be an integer in 0..{len(shape)}, got {batch_dim!r}")
        specs.append(NoiseSpec(entry["distribution"], shape, batch_dim))
    return tuple(specs)


@dataclass(frozen=True)
class BundleMeta:
    name: str
    family: str
    data_shape: tuple[int, int, int]
    levels: int
    discrete: bool
    likelihood: str
    sample_noise: tuple[NoiseSpec, ...]
    log_prob_noise: tuple[NoiseSpec, ...] = ()
    estimator: str = ""
    bound_k: int | None = None
    transform: Transform = Transform()
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "name": self.name, "family": self.family,
            "data_shape": list(self.data_shape), "levels": self.levels, "discrete": self.discrete,
            "likelihood": self.likelihood, "estimator": self.estimator, "bound_k": self.bound_k,
            "transform": self.transform.to_dict(),
            "sample_noise": [s.to_dict() for s in self.sample_noise],
            "log_prob_noise": [s.to_dict() for s in self.log_prob_noise],
            "source": self.source,
        }

    def info(self, **extra: Any) -> ModelInfo:
        return ModelInfo(name=self.name, family=self.family, data_shape=self.data_shape, levels=self.levels,
                         likelihood=self.likelihood, discrete=self.discrete, estimator=self.estimator,
                         bound_k=self.bound_k, extra={**extra, "transform": self.transform.to_dict()})

    @classmethod
    def parse(cls, meta: Any, what: str) -> "BundleMeta":
        """Validate a meta.json object strictly: every problem is named, nothing is guessed."""
        if not isinstance(meta, dict):
            raise CheckpointError(f"{what}: must be a JSON object")
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise CheckpointError(f"{what}: expected format {FORMAT!r} version {VERSION}, "
                                  f"got {meta.get('format')!r} version {meta.get('version')!r}")
        unknown = sorted(set(meta) - KEYS)
        if unknown:
            raise CheckpointError(f"{what}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
        levels, discrete, likelihood = meta.get("levels"), meta.get("discrete"), meta.get("likelihood")
        if not isinstance(levels, int) or isinstance(levels, bool) or not 2 <= levels <= 1 << 16:
            raise CheckpointError(f"{what}: levels must be an integer in 2..65536, got {levels!r}")
        if not isinstance(discrete, bool):
            raise CheckpointError(f"{what}: discrete must be true or false, got {discrete!r}")
        if likelihood not in KINDS:
            raise CheckpointError(f"{what}: likelihood must be one of {', '.join(KINDS)}, got {likelihood!r}")
        bound_k = meta.get("bound_k")
        if bound_k is not None and (not isinstance(bound_k, int) or isinstance(bound_k, bool) or bound_k < 1):
            raise CheckpointError(f"{what}: bound_k must be a positive integer or null, got {bound_k!r}")
        transform = Transform.parse(meta.get("transform"), what)
        if discrete and transform.kind == "logit":
            raise CheckpointError(f"{what}: a discrete model cannot take a logit transform (it has no density)")
        sample_noise = _noise_specs(meta.get("sample_noise"), f"{what}: sample_noise")
        if not sample_noise:
            raise CheckpointError(f"{what}: sample_noise is empty; the sampler must take its noise as inputs")
        texts = {key: meta.get(key, "") for key in ("name", "family", "estimator")}
        if not all(isinstance(v, str) for v in texts.values()) or not isinstance(meta.get("source", {}), dict):
            raise CheckpointError(f"{what}: name, family and estimator must be strings and source an object")
        return cls(
            name=texts["name"] or "exported model", family=texts["family"] or "export",
            data_shape=check_image_shape(meta.get("data_shape"), what), levels=levels, discrete=discrete,
            likelihood=likelihood, sample_noise=sample_noise,
            log_prob_noise=_noise_specs(meta.get("log_prob_noise", []), f"{what}: log_prob_noise"),
            estimator=texts["estimator"], bound_k=bound_k, transform=transform, source=meta.get("source", {}),
        )

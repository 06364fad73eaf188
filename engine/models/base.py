"""The protocol every evaluated model implements, whatever format it was loaded from.

Input convention of ``log_prob``: images are always handed over as float tensors in [0, 1] of shape
(N, C, H, W). For *discrete* models the engine passes the grid values ``x / (L - 1)`` and the model
returns log P(x) of the discrete image. For *continuous* densities the engine passes dequantized
values ``y = (x + u) / L`` and the model returns the density log p(y) on [0, 1]^D; any internal
pre-transform (rescaling, logit) must include its Jacobian. Natural log, one value per sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol, runtime_checkable

import torch

LikelihoodKind = Literal["exact", "lower_bound", "none"]


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and what its likelihood means."""

    name: str
    family: str
    data_shape: tuple[int, int, int]  # (C, H, W)
    levels: int  # L: data live on the grid 0..L-1
    likelihood: LikelihoodKind
    discrete: bool  # True: log_prob gives log P(x) of the discrete image; False: a density on [0,1]^D
    estimator: str = ""  # e.g. "change of variables", "autoregressive", "logsumexp", "IWAE"
    bound_k: int | None = None  # default K of a bound estimator (IWAE-K), None when exact
    per_dim: bool = False  # whether log_prob_per_dim is available
    extra: dict = field(default_factory=dict)  # format-specific facts (source path, head, ...)

    @property
    def dims(self) -> int:
        c, h, w = self.data_shape
        return c * h * w

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data_shape"] = list(self.data_shape)
        return d


@runtime_checkable
class GenerativeModel(Protocol):
    """What the engine needs of a model. Zoo models are ``nn.Module`` s that also satisfy it."""

    info: ModelInfo

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples as float values in [0, 1], shape (n, C, H, W), on the model's device."""
        ...

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One natural-log value per sample (see the module docstring for the input convention).

        ``generator`` drives stochastic estimators (IWAE); exact models ignore it.
        """
        ...


def supports_per_dim(model: GenerativeModel) -> bool:
    """Whether the model gives per-dimension log-likelihoods (``log_prob_per_dim``)."""
    return model.info.per_dim and callable(getattr(model, "log_prob_per_dim", None))

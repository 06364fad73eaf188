"""GenLoupe adapter for made.py (an outside MADE): ``genloupe info made_adapter.py --trust-code``.

The contract, in order: ``load(path)`` gets this file's path; it returns an object with ``info`` (a
``ModelInfo``), ``sample(n, generator)`` giving values in [0, 1] and ``log_prob(y, generator=None)``
giving one natural-log value per image. A discrete model is handed grid values y = x / (L - 1) and
returns log P(x); it must *round* them back to levels (truncating with ``.long()`` moves pixels).
"""

from pathlib import Path

import torch
from torch import nn

from genloupe.engine.models.base import ModelInfo
from made import MADE

GENLOUPE_FILES = ["made.py", "made.pt"]  # what load() reads: GenLoupe's content hash covers them
LEVELS, SHAPE, NIN = 17, (1, 8, 8), 64


class MadeModel(nn.Module):
    def __init__(self, made: MADE) -> None:
        super().__init__()
        self.made = made
        self.info = ModelInfo(name="MADE (karpathy-style, 128 hidden)", family="autoregressive", data_shape=SHAPE,
                              levels=LEVELS, likelihood="exact", discrete=True, estimator="autoregressive",
                              per_dim=True)

    def levels(self, y: torch.Tensor) -> torch.Tensor:
        return torch.round(y * (LEVELS - 1)).long().reshape(len(y), NIN)

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:  # optional: where the bits go, pixel by pixel
        return self.made.log_prob_levels(self.levels(y)).reshape(y.shape)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # all noise from torch.rand/torch.randn, drawn per sample: `genloupe export` turns it into inputs
        u = torch.rand(n, NIN, generator=generator, device=generator.device if generator else None)
        return self.made.sample(u).float().reshape(n, *SHAPE) / (LEVELS - 1)


def load(path: Path) -> MadeModel:
    made = MADE(NIN, [128], LEVELS)
    made.load_state_dict(torch.load(Path(path).parent / "made.pt", weights_only=True))
    return MadeModel(made.eval())

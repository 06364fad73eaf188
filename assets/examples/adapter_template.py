"""A GenLoupe adapter: the bridge between your research code and GenLoupe (written by `genloupe new-adapter`).

Open it with:   genloupe info THIS_FILE.py --trust-code     (then likelihood / evaluate / export)

It runs as written — a per-pixel categorical model, untrained — so you can see every step work, then
replace the model with yours. The contract (the README's "Bring your own model" says more):

- ``load(path)`` receives this file's path (a pathlib.Path): find your weights beside it.
- It returns an object with ``info`` (a ModelInfo), ``sample(n, generator)`` and ``log_prob(y, ...)``.
- Images are float tensors (N, C, H, W) in [0, 1]. A *discrete* model (it gives P(x) of the image on
  L levels) is handed grid values y = x / (L - 1) and must ROUND them: x = torch.round(y * (L - 1)).
  ``y.long()`` truncates and moves pixels; GenLoupe's probes refuse it. A *density* (discrete=False)
  is handed dequantized values y = (x + u) / L and returns log p(y) on [0, 1]^D (include the Jacobian
  of any rescaling you do inside).
- ``sample`` returns values in [0, 1] (levels x as x / (L - 1)); GenLoupe never clamps them silently.
- A bound model (likelihood="lower_bound": ELBO, IWAE) takes ``k``, the number of draws, in log_prob.
- To export (``genloupe export THIS_FILE.py --trust-code --out bundle.zip``, a bundle that opens without
  trust): the model must be an nn.Module, draw noise only with torch.randn / torch.rand (not randn_like,
  multinomial, ...), per sample, and work at a fixed batch (64 by default).
"""

from pathlib import Path

import torch
from torch import nn

from genloupe.engine.models.base import ModelInfo

# The files load() reads, relative to this one: GenLoupe's content hash (trust, the check for changed
# checkpoints, provenance) covers them. Without this list it covers this file's whole folder.
GENLOUPE_FILES: list[str] = []  # e.g. ["my_model.py", "weights.pt"]

DATA_SHAPE = (1, 8, 8)  # (C, H, W) of one image
LEVELS = 17  # L: the pixel levels of the data the model learnt (17 for scikit-learn's digits, 256 for 8-bit)


class MyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.randn(LEVELS, *DATA_SHAPE) * 0.1)  # replace with your network
        self.info = ModelInfo(
            name="my model",  # shown with every number
            family="categorical",  # free text: flow, vae, autoregressive, gan, ...
            data_shape=DATA_SHAPE,
            levels=LEVELS,
            likelihood="exact",  # "exact", "lower_bound" (then set estimator and bound_k), or "none" (a GAN)
            discrete=True,  # True: log_prob gives log P(x) of the discrete image; False: a density on [0, 1]^D
            estimator="factorized softmax",
            per_dim=True,  # True when log_prob_per_dim is defined (per-pixel bits in the inspector)
        )

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        """Optional: log P per pixel (N, C, H, W); their sum is log_prob."""
        x = torch.round(y * (LEVELS - 1)).long()  # round, never truncate
        return torch.log_softmax(self.logits, 0).unsqueeze(0).expand(len(y), -1, -1, -1, -1).gather(
            1, x.unsqueeze(1)).squeeze(1)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One natural-log value per image, (N,). A bound model adds k: def log_prob(self, y, generator=None, k=None)."""
        return self.log_prob_per_dim(y).flatten(1).sum(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (n, C, H, W) in [0, 1]; draw noise with torch.rand / torch.randn from ``generator``."""
        device = generator.device if generator is not None else self.logits.device
        u = torch.rand(n, 1, *DATA_SHAPE, generator=generator, device=device).to(self.logits.device)
        cdf = torch.softmax(self.logits, 0).cumsum(0).unsqueeze(0)  # (1, L, C, H, W)
        x = (cdf < u).sum(1).clamp(max=LEVELS - 1)
        return x.float() / (LEVELS - 1)


def load(path: Path) -> MyModel:
    model = MyModel()
    # model.load_state_dict(torch.load(Path(path).parent / "weights.pt", weights_only=True))
    return model.eval()

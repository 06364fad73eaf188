"""GenLoupe adapter for vae.py (pytorch/examples' VAE): a bound model, IWAE-K.

A bound model's ``log_prob`` takes ``k`` (the number of importance samples; GenLoupe passes it, e.g.
``genloupe likelihood --k 1024``) and ``generator`` (so every estimate is seeded), and its ``ModelInfo``
says ``likelihood="lower_bound"`` with its default ``bound_k``.
"""

from pathlib import Path

import torch
from torch import nn

from genloupe.engine.models.base import ModelInfo
from vae import VAE

GENLOUPE_FILES = ["vae.py", "vae.pt"]
LEVELS, SHAPE, NIN, K = 17, (1, 8, 8), 64, 64


class VaeModel(nn.Module):
    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae
        self.info = ModelInfo(name="VAE (pytorch/examples, categorical decoder)", family="vae", data_shape=SHAPE,
                              levels=LEVELS, likelihood="lower_bound", discrete=True, estimator="IWAE", bound_k=K)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        k = k or K
        x = torch.round(y * (LEVELS - 1)).long().reshape(len(y), NIN)
        # torch.randn, not randn_like (pytorch/examples' reparameterize): an export takes it as an input
        eps = torch.randn(k, len(y), self.vae.latent, generator=generator, device=y.device)
        return self.vae.iwae(x, k, eps)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator else None
        z = torch.randn(n, self.vae.latent, generator=generator, device=device)
        u = torch.rand(n, NIN, generator=generator, device=device)
        return self.vae.sample(z, u).float().reshape(n, *SHAPE) / (LEVELS - 1)


def load(path: Path) -> VaeModel:
    vae = VAE(NIN, LEVELS)
    vae.load_state_dict(torch.load(Path(path).parent / "vae.pt", weights_only=True))
    return VaeModel(vae.eval())

"""Sample bundles of the outside models: samples and their own log-likelihoods, for GenLoupe to read.

    python assets/examples/write_samples.py FOLDER [N]   # after train.py: made_samples.npz, vae_samples.npz

The route for models sampled elsewhere (a cluster, another framework): integer levels, the ``levels``
they live on, and each sample's log-likelihood with a ``log_prob_convention`` saying what it is.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from made_adapter import load as load_made  # noqa: E402
from vae_adapter import load as load_vae  # noqa: E402

LEVELS = 17


def write(folder, n=200, seed=0):
    folder = Path(folder)
    generator = torch.Generator().manual_seed(seed)
    made, vae = load_made(folder / "made_adapter.py"), load_vae(folder / "vae_adapter.py")
    with torch.no_grad():
        x = made.made.sample(torch.rand(n, 64, generator=generator))
        log_px = made.made.log_prob_levels(x).sum(1)  # the researcher's own exact log P(x), nats
        np.savez(folder / "made_samples.npz", samples=x.reshape(n, 8, 8).numpy().astype(np.uint8),
                 levels=np.int64(LEVELS), log_prob=log_px.double().numpy(),
                 log_prob_convention=json.dumps({"unit": "nats", "space": "discrete", "kind": "exact"}))
        z, u = torch.randn(n, vae.vae.latent, generator=generator), torch.rand(n, 64, generator=generator)
        x = vae.vae.sample(z, u)
        bound = vae.vae.iwae(x, 256, torch.randn(256, n, vae.vae.latent, generator=generator))
        bpd = -bound / (64 * np.log(2))  # reported the usual way: bits/dim
        np.savez(folder / "vae_samples.npz", samples=x.reshape(n, 8, 8).numpy().astype(np.uint8),
                 levels=np.int64(LEVELS), log_prob=bpd.double().numpy(),
                 log_prob_convention=json.dumps({"unit": "bits/dim", "kind": "lower_bound", "estimator": "IWAE",
                                                 "k": 256}))
    return folder / "made_samples.npz", folder / "vae_samples.npz"


if __name__ == "__main__":
    write(sys.argv[1], *(int(a) for a in sys.argv[2:3]))

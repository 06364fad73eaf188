"""Train the two outside models on scikit-learn's digits with the researcher's own split.

    python assets/examples/train.py OUT_FOLDER [--epochs 40]

writes ``made.pt`` and ``vae.pt`` (state dicts) and ``train_indices.json`` (the images they learnt
from: GenLoupe's held-out, train-split and memorization views use it through ``--train-indices``).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from made import MADE
from vae import VAE, loss_function

LEVELS, NIN = 17, 64


def digits():
    return torch.from_numpy(load_digits().images.reshape(-1, NIN).astype(np.int64))


def own_split(n, seed=1234, n_train=1500):
    """Not GenLoupe's split: the researcher's own (a different seed and a different size)."""
    order = np.random.RandomState(seed).permutation(n)
    return np.sort(order[:n_train]), np.sort(order[n_train:])


def fit(model, x, loss, epochs, batch=100, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(batch):
            optimizer.zero_grad()
            loss(model, x[idx]).backward()
            optimizer.step()
    return model.eval()


def made_loss(model, x):
    return -model.log_prob_levels(x).sum(1).mean()


def vae_loss(model, x):
    logits, mu, logvar = model(x)
    return loss_function(logits, x, mu, logvar) / len(x)


def train(out, epochs=40, made_kwargs=None):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    x = digits()
    train_idx, _ = own_split(len(x))
    made = fit(MADE(NIN, [128], LEVELS, **(made_kwargs or {})), x[train_idx], made_loss, epochs)
    vae = fit(VAE(NIN, LEVELS), x[train_idx], vae_loss, epochs)
    torch.save(made.state_dict(), out / "made.pt")
    torch.save(vae.state_dict(), out / "vae.pt")
    (out / "train_indices.json").write_text(json.dumps({"train": train_idx.tolist()}))
    return made, vae


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    train(args.out, args.epochs)

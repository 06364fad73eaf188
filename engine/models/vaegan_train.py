"""Training of the VAE-GAN hybrid: an ELBO step and the GAN steps on every batch, early stopping
on the validation ELBO.

Per batch: (1) encoder and decoder take an Adam step on the negative ELBO; (2) the discriminator
takes a step on the logistic loss of real images against generator images; (3) the generator takes
a non-saturating step, -log D(G(z)), plus ``tie`` times the mean squared distance of G(z) to the
decoder mean at the same z, which keeps both heads on one latent space (z means the same digit to
both) without making the generator a copy of the blurrier decoder mean.

Deterministic for a seed on the CPU: weights are initialised under a forked global RNG seeded with
``seed``, and every other draw (shuffling, latents) comes from explicit generators.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from ..data.dataset import Dataset
from ..device import resolve_device
from ..errors import DataError
from ..progress import Progress, null_progress

if TYPE_CHECKING:
    from .vaegan import VAEGAN


def fit_vaegan(
    cls: type["VAEGAN"],
    train: Dataset,
    val: Dataset,
    *,
    config: dict[str, Any],
    epochs: int | None,
    seed: int,
    device: str | torch.device,
    progress: Progress | None,
) -> "VAEGAN":
    """Train a fresh model of ``config`` on ``train``; return it with the weights of its best
    validation ELBO (all four networks from that epoch)."""
    progress = progress or null_progress()
    target = resolve_device(device)
    _check_data(config, train, val)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(**config).to(target)
    settings = model.config
    epochs = settings["epochs"] if epochs is None else int(epochs)
    vae_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    opt_vae = torch.optim.Adam(vae_params, lr=settings["lr"])
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=settings["gan_lr"], betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=settings["gan_lr"], betas=(0.5, 0.999))
    images = torch.as_tensor(train.images, device=target).long()
    val_images = torch.as_tensor(val.images, device=target).long()
    noise = torch.Generator(device=target)
    noise.manual_seed(seed)
    shuffle = torch.Generator()
    shuffle.manual_seed(seed + 1)
    batch_size = min(settings["batch_size"], len(images))
    best, best_state, waited = -float("inf"), copy.deepcopy(model.state_dict()), 0
    progress.update(0, epochs, "train")
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=shuffle).to(target)
        for start in range(0, len(images) - batch_size + 1, batch_size):
            progress.check()
            x = images[order[start : start + batch_size]]
            _step(opt_vae, model.training_loss(x, noise))
            _gan_steps(model, x, noise, opt_g, opt_d, settings["tie"])
        score = _validation_elbo(model, val_images, seed)
        if score > best:
            best, best_state, waited = score, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
        progress.update(epoch + 1, epochs, "train")
        if waited >= settings["patience"]:
            break
    model.load_state_dict(best_state)
    return model.eval()


def _check_data(config: dict[str, Any], train: Dataset, val: Dataset) -> None:
    for part in (train, val):
        if list(part.shape) != list(config["data_shape"]) or part.levels != config["levels"]:
            raise DataError(
                f"{part.name}: images {part.shape} on {part.levels} levels do not fit the vaegan config "
                f"({tuple(config['data_shape'])} on {config['levels']} levels)"
            )
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"vaegan training needs training and validation images (got {len(train)} and {len(val)})")


def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _gan_steps(
    model: "VAEGAN", x: torch.Tensor, noise: torch.Generator, opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer, tie: float,
) -> None:
    real = x.to(torch.float32) / (model.levels - 1)
    z = torch.randn((len(x), model.latent), generator=noise, device=x.device)
    fake = model.generate(z)
    _step(opt_d, F.softplus(-model.criticize(real)).mean() + F.softplus(model.criticize(fake.detach())).mean())
    with torch.no_grad():
        anchor = model.decode(z)[0].clamp(0.0, 1.0).reshape(fake.shape)
    _step(opt_g, F.softplus(-model.criticize(fake)).mean() + tie * (fake - anchor).pow(2).mean())


def _validation_elbo(model: "VAEGAN", images: torch.Tensor, seed: int) -> float:
    """Mean ELBO (nats) of the validation images, with the same draws every epoch."""
    model.eval()
    generator = torch.Generator(device=images.device)
    generator.manual_seed(seed + 2)
    with torch.no_grad():
        return float(model.elbo(images.to(torch.float32) / (model.levels - 1), generator).mean())

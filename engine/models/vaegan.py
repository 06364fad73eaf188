"""The hybrid family: a VAE and a GAN over one latent space, exposed as two heads.

- ``vae`` head: encoder q(z|x) = N(mu, diag sigma^2), prior p(z) = N(0, I), and a *discrete*
  decoder p(x|z) over the L levels, so that ``log_prob`` bounds log P(x) of the discrete image
  itself (ELBO, IWAE-K; the bound tightens as K grows and is always labelled as a bound).
- ``gan`` head: a generator maps the same prior draws z ~ N(0, I) to images; a discriminator is
  used in training only. It has no likelihood (kind ``none``); its samples are scored under the
  VAE head instead, which is what makes the pair interesting side by side.

The default head ('') behaves as the VAE head. Training (:mod:`.vaegan_train`) alternates an ELBO
step with non-saturating GAN steps and ties the generator gently to the decoder mean at the same z.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from ..data.dataset import Dataset
from ..errors import ModelError
from ..progress import Progress
from .base import ModelInfo
from .vaegan_train import fit_vaegan
from .zoo import ZooModel, register

LOG_2PI = math.log(2.0 * math.pi)
MIN_LOG_SCALE = -7.0  # keeps the logistic scale above ~1e-3 so bin masses stay finite
DRAWS_PER_CHUNK = 256  # latent draws per IWAE chunk at most
CHUNK_ELEMENTS = 1 << 22  # activations per IWAE chunk (draws x batch x widest layer) at most

# Config beyond (data_shape, levels): the networks, the default IWAE K, and the training schedule
# (:mod:`.vaegan_train`), sized to train on the digits in about a minute on two cores.
DEFAULTS: dict[str, Any] = {
    "latent": 16,  # latent dimensions shared by the decoder and the generator
    "hidden": 256,  # width of every hidden layer
    "bound_k": 64,  # IWAE draws when log_prob is called without k
    "epochs": 300,  # at most; early stopping on the validation ELBO usually ends sooner
    "patience": 30,  # epochs without a better validation ELBO before stopping
    "batch_size": 64,
    "lr": 1e-3,  # Adam, encoder and decoder
    "gan_lr": 2e-4,  # Adam (beta1 = 0.5), generator and discriminator
    "tie": 1.0,  # weight of the pull of G(z) towards the decoder mean at the same z
}


def discretized_logistic_log_prob(
    x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, levels: int
) -> torch.Tensor:
    """log P(x) per element for integer levels x under a logistic discretized onto the L levels.

    Why this decoder rather than a softmax over L: it needs 2 numbers per dimension whatever L
    (a categorical needs L logits per dimension, 256x the output for 8-bit data), and it respects
    the order of intensities, so neighbouring levels share mass. Level k covers the interval
    [c_k - h, c_k + h] of [0, 1] with c_k = k/(L-1), h = 1/(2(L-1)); the end levels take the tails,
    so saturated pixels (most of a digit is background 0) can get probability close to 1.

    Computed in log space: for a > b, sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - e^(b-a)).
    """
    x = x.to(mean.dtype)
    scale_inv = torch.exp(-log_scale)
    half = 0.5 / (levels - 1)
    centre = x / (levels - 1)
    upper = (centre + half - mean) * scale_inv
    lower = (centre - half - mean) * scale_inv
    top, bottom = x >= levels - 1, x <= 0
    log_cdf_upper = torch.where(top, torch.zeros_like(upper), F.logsigmoid(upper))
    log_sf_lower = torch.where(bottom, torch.zeros_like(lower), F.logsigmoid(-lower))
    log_width = torch.log(-torch.expm1(-2.0 * half * scale_inv))
    log_gap = torch.where(top | bottom, torch.zeros_like(log_width), log_width)
    return log_cdf_upper + log_sf_lower + log_gap


def discretized_logistic_sample(
    mean: torch.Tensor, log_scale: torch.Tensor, levels: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Integer levels drawn from the discretized logistic (a logistic draw rounded to its level)."""
    u = torch.rand(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    u = u.clamp(1e-6, 1.0 - 1e-6)
    y = mean + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
    return torch.round(y * (levels - 1)).clamp(0, levels - 1)


def _mlp(widths: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class _LeakyReLU(nn.LeakyReLU):
    def __init__(self) -> None:
        super().__init__(0.2)


@register
class VAEGAN(ZooModel):
    """Encoder, decoder, generator and discriminator (MLPs over the flattened image, so any
    (C, H, W) and L work; sized for 8x8 digits by :meth:`default_config`)."""

    family = "vaegan"
    defaults: ClassVar[dict[str, Any]] = DEFAULTS  # the architecture's config keys beyond (data_shape, levels)

    def __init__(self, data_shape: list[int] | tuple[int, int, int], levels: int, **options: Any) -> None:
        super().__init__()
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ModelError(f"vaegan: unknown config keys {', '.join(unknown)}; known: {', '.join(self.defaults)}")
        self.config = {"data_shape": [int(s) for s in data_shape], "levels": int(levels),
                       **{key: type(value)(options.get(key, value)) for key, value in self.defaults.items()}}
        self.data_shape = tuple(self.config["data_shape"])
        self.levels = self.config["levels"]
        self.latent, self.hidden, self.bound_k = (self.config[key] for key in ("latent", "hidden", "bound_k"))
        if len(self.data_shape) != 3 or min(self.data_shape) < 1 or self.levels < 2 or min(self.latent, self.hidden, self.bound_k) < 1:
            raise ModelError(f"vaegan: bad config {self.config}")
        self.dims = math.prod(self.data_shape)
        self.build_networks()

    def build_networks(self) -> None:
        """The four networks as attributes encoder, decoder, generator, discriminator (MLPs here)."""
        d, latent, hidden = self.dims, self.latent, self.hidden
        self.encoder = _mlp([d, hidden, hidden, 2 * latent], nn.SiLU)
        self.decoder = _mlp([latent, hidden, hidden, 2 * d], nn.SiLU)
        self.generator = _mlp([latent, hidden, hidden, d], nn.SiLU)
        self.discriminator = _mlp([d, hidden, hidden, 1], _LeakyReLU)

    @classmethod
    def default_config(cls, data_shape: tuple[int, int, int], levels: int) -> dict[str, Any]:
        """Architecture and training settings; :data:`DEFAULTS` are sized for the digits (D=64)."""
        return {"data_shape": [int(s) for s in data_shape], "levels": int(levels), **cls.defaults}

    @classmethod
    def fit(
        cls,
        train: Dataset,
        val: Dataset,
        *,
        config: dict[str, Any],
        epochs: int | None,
        seed: int,
        device: str | torch.device,
        progress: Progress | None,
    ) -> "VAEGAN":
        """Train on ``train`` with early stopping on ``val`` (see :mod:`.vaegan_train`)."""
        return fit_vaegan(cls, train, val, config=config, epochs=epochs, seed=seed, device=device, progress=progress)

    # --- the protocol (default head = VAE) -------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self.head_info("vae")

    def head_info(self, head: str) -> ModelInfo:
        common = dict(family=self.family, data_shape=self.data_shape, levels=self.levels,
                      extra={"head": head, "heads": self.heads()})
        if head == "gan":
            return ModelInfo(name="vaegan/gan", likelihood="none", discrete=False, **common)
        return ModelInfo(name="vaegan/vae", likelihood="lower_bound", discrete=True, estimator="IWAE",
                         bound_k=self.bound_k, **common)

    def heads(self) -> list[str]:
        return ["vae", "gan"]

    def head(self, name: str) -> Any:
        if name == "":
            return self
        if name == "vae":
            return VAEHead(self)
        if name == "gan":
            return GANHead(self)
        raise ModelError(f"vaegan has no head {name!r}; heads: vae, gan")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_vae(n, generator)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        return self.iwae(y, generator, k)

    # --- the networks ----------------------------------------------------------------------

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x) for display values y = x/(L-1), shape (N, C, H, W)."""
        stats = self.encoder(y.reshape(len(y), -1) * 2.0 - 1.0)
        return stats[:, : self.latent], stats[:, self.latent :]

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logistic mean (in [0,1] units, unbounded so the end levels can saturate) and log-scale,
        each of shape (..., D), for latents of shape (..., latent)."""
        out = self.decoder(z)
        mean = 0.5 + out[..., : self.dims]
        log_scale = out[..., self.dims :].clamp(min=MIN_LOG_SCALE)
        return mean, log_scale

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """The GAN generator: latents (N, latent) to images (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.generator(z)).reshape(len(z), *self.data_shape)

    def criticize(self, y: torch.Tensor) -> torch.Tensor:
        """Discriminator logits (N,), real > 0, for images in [0, 1]."""
        return self.discriminator(y.reshape(len(y), -1) * 2.0 - 1.0)[:, 0]

    # --- VAE head ---------------------------------------------------------------------------

    def to_levels(self, y: torch.Tensor) -> torch.Tensor:
        """Grid values y = x/(L-1) back to integer levels x (as floats), checking the shape."""
        if y.ndim != 4 or tuple(y.shape[1:]) != self.data_shape:
            raise ModelError(f"vaegan expects images of shape (N, {', '.join(map(str, self.data_shape))}), got {tuple(y.shape)}")
        return torch.round(y.to(torch.float32) * (self.levels - 1)).clamp(0, self.levels - 1)

    def log_weights(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """log p(x|z) + log p(z) - log q(z|x) for z = mu + sigma*eps; eps (K, N, latent) -> (K, N)."""
        z = mu + torch.exp(0.5 * logvar) * eps
        mean, log_scale = self.decode(z)
        log_px_z = discretized_logistic_log_prob(x.reshape(len(x), -1), mean, log_scale, self.levels).sum(-1)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        return log_px_z + log_pz - log_qz

    def widest_activation(self) -> int:
        """Activations per latent draw in the widest layer of the decoder."""
        return max(2 * self.dims, self.hidden)

    def draws_per_chunk(self, n: int) -> int:
        """Latent draws per IWAE chunk for a batch of n: at most DRAWS_PER_CHUNK and CHUNK_ELEMENTS."""
        widest = self.widest_activation()
        return max(1, min(DRAWS_PER_CHUNK, CHUNK_ELEMENTS // max(1, n * widest)))

    def iwae(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None,
             chunk: int | None = None) -> torch.Tensor:
        """IWAE-K lower bound on log P(x) per image: log mean_k w_k over K draws from q(z|x).

        K=1 is the one-draw ELBO estimate; the bound rises with K towards log P(x). Draws come in
        chunks of ``chunk`` (default :meth:`draws_per_chunk`), so memory does not grow with K
        (K=5000 is the usual reported NLL). Evaluation only (no gradients).
        """
        k = self.bound_k if k is None else int(k)
        if k < 1:
            raise ModelError(f"IWAE needs K >= 1 draws, got {k}")
        with torch.no_grad():
            x = self.to_levels(y)
            mu, logvar = self.encode(x / (self.levels - 1))
            step = chunk or self.draws_per_chunk(len(x))
            draws = (
                torch.randn((min(step, k - start), *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
                for start in range(0, k, step)
            )
            return self.bound_from_draws(x, mu, logvar, draws)

    def bound_from_draws(
        self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, draws: Iterable[torch.Tensor]
    ) -> torch.Tensor:
        """log mean exp of the log weights over all draws, chunk by chunk with a running logsumexp
        (equal to one logsumexp over the concatenated draws, without holding them all)."""
        total = torch.full((len(x),), -math.inf, device=x.device)
        count = 0
        for eps in draws:
            total = torch.logaddexp(total, torch.logsumexp(self.log_weights(x, mu, logvar, eps), 0))
            count += len(eps)
        return total - math.log(count)

    def elbo(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """ELBO per image: one-draw reconstruction term minus the analytic KL(q(z|x) || N(0, I)).

        Same expectation as IWAE-1 with less variance; differentiable, so training uses it.
        """
        x = self.to_levels(y)
        mu, logvar = self.encode(x / (self.levels - 1))
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        mean, log_scale = self.decode(mu + torch.exp(0.5 * logvar) * eps)
        recon = discretized_logistic_log_prob(x.reshape(len(x), -1), mean, log_scale, self.levels).sum(-1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon - kl

    def training_loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Negative ELBO in nats per dimension for integer levels x (the VAE half of training)."""
        return -self.elbo(x.to(torch.float32) / (self.levels - 1), generator).mean() / self.dims

    def sample_vae(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Prior draws decoded and *sampled* from the discrete decoder, as x/(L-1) in [0, 1]."""
        with torch.no_grad():
            z = torch.randn((n, self.latent), generator=generator, device=self.device)
            mean, log_scale = self.decode(z)
            x = discretized_logistic_sample(mean, log_scale, self.levels, generator)
            return (x / (self.levels - 1)).reshape(n, *self.data_shape)

    # --- GAN head ---------------------------------------------------------------------------

    def sample_gan(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generator images of prior draws z ~ N(0, I), values in [0, 1]."""
        with torch.no_grad():
            return self.generate(torch.randn((n, self.latent), generator=generator, device=self.device))


class VAEHead(nn.Module):
    """The VAE as a protocol model of its own (shares the parent's networks)."""

    def __init__(self, model: VAEGAN) -> None:
        super().__init__()
        self.model = model

    @property
    def info(self) -> ModelInfo:
        return self.model.head_info("vae")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.sample_vae(n, generator)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        return self.model.iwae(y, generator, k)

    def elbo(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The one-draw ELBO estimate (analytic KL), for evaluation."""
        with torch.no_grad():
            return self.model.elbo(y, generator)


class GANHead(nn.Module):
    """The GAN generator as a protocol model: samples only, likelihood kind 'none'."""

    def __init__(self, model: VAEGAN) -> None:
        super().__init__()
        self.model = model

    @property
    def info(self) -> ModelInfo:
        return self.model.head_info("gan")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.sample_gan(n, generator)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        raise ModelError("the GAN head has no likelihood; score its samples under the VAE head")

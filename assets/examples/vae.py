"""The VAE of pytorch/examples (vae/main.py), sized for 8x8 images on a few grey levels, with a
categorical decoder over the levels so that it bounds log P(x) of the discrete image. An outside
model: no GenLoupe inside.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self, nin=64, levels=17, hidden=200, latent=8):
        super().__init__()
        self.nin, self.levels, self.latent = nin, levels, latent
        self.fc1 = nn.Linear(nin, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, nin * levels)

    def encode(self, x):
        h1 = F.relu(self.fc1(2.0 * x.float() / (self.levels - 1) - 1.0))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        """Logits (..., levels, nin) of p(x | z)."""
        h3 = F.relu(self.fc3(z))
        return self.fc4(h3).view(*z.shape[:-1], self.levels, self.nin)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar

    def log_px_given_z(self, x, logits):
        return F.log_softmax(logits, -2).gather(-2, x.long().unsqueeze(-2).expand(*logits.shape[:-2], 1, -1)).squeeze(-2).sum(-1)

    def iwae(self, x, k, eps):
        """The researcher's own IWAE-k bound of log P(x), nats, x integer levels (N, nin), eps (k, N, latent)."""
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        z = mu + eps * std  # (k, N, latent)
        log_q = (-0.5 * eps**2 - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_w = self.log_px_given_z(x.unsqueeze(0).expand(k, -1, -1), self.decode(z)) + log_prior - log_q
        return torch.logsumexp(log_w, 0) - math.log(k)

    def sample(self, z, u):
        """Integer levels (N, nin) from latents z (N, latent) and uniform noise u (N, nin)."""
        probs = F.softmax(self.decode(z), 1)
        return (probs.cumsum(1) < u.unsqueeze(1)).sum(1).clamp(max=self.levels - 1)


def loss_function(recon_logits, x, mu, logvar):
    """Negative ELBO in nats (pytorch/examples' loss with a categorical decoder)."""
    nll = F.cross_entropy(recon_logits, x.long(), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return nll + kld

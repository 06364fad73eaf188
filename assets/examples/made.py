"""MADE (Germain et al. 2015) written the way public code writes it (after karpathy/pytorch-made),
with a softmax over the pixel levels instead of a Bernoulli: an outside model, no GenLoupe inside.

Output unit j * nin + d holds the logit of level j for input d (karpathy's "nout = k * nin" layout).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedLinear(nn.Linear):
    """Same as Linear except has a configurable mask on the weights."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.ones(out_features, in_features))

    def set_mask(self, mask):
        self.mask.data.copy_(torch.from_numpy(mask.astype(np.uint8).T))

    def forward(self, input):
        return F.linear(input, self.mask * self.weight, self.bias)


class MADE(nn.Module):
    def __init__(self, nin, hidden_sizes, levels, natural_ordering=False, seed=0):
        super().__init__()
        self.nin, self.levels, self.hidden_sizes = nin, levels, hidden_sizes
        nout = nin * levels
        hs = [nin] + hidden_sizes + [nout]
        layers = []
        for h0, h1 in zip(hs, hs[1:]):
            layers.extend([MaskedLinear(h0, h1), nn.ReLU()])
        layers.pop()
        self.net = nn.Sequential(*layers)
        rng = np.random.RandomState(seed)
        m = {-1: np.arange(nin) if natural_ordering else rng.permutation(nin)}
        for l in range(len(hidden_sizes)):
            m[l] = rng.randint(m[l - 1].min(), nin - 1, size=hidden_sizes[l])
        masks = [m[l - 1][:, None] <= m[l][None, :] for l in range(len(hidden_sizes))]
        masks.append(m[len(hidden_sizes) - 1][:, None] < m[-1][None, :])
        masks[-1] = np.concatenate([masks[-1]] * levels, axis=1)
        for layer, mask in zip([l for l in self.net if isinstance(l, MaskedLinear)], masks):
            layer.set_mask(mask)
        self.m = m  # degrees; m[-1] is the order in which the inputs are predicted

    def forward(self, x):
        """Logits (N, levels, nin) of every conditional, from integer levels x (N, nin)."""
        h = 2.0 * x.float() / (self.levels - 1) - 1.0
        return self.net(h).view(len(x), self.levels, self.nin)

    def log_prob_levels(self, x):
        """log P(x) per image and per pixel, x integer levels (N, nin): the researcher's own number."""
        logp = F.log_softmax(self(x), 1).gather(1, x.long().unsqueeze(1)).squeeze(1)
        return logp

    def sample(self, u):
        """Images as integer levels (N, nin) from uniform noise u (N, nin), in the model's order."""
        x = torch.zeros(u.shape, dtype=torch.long, device=u.device)
        for d in np.argsort(self.m[-1]):
            probs = F.softmax(self(x)[:, :, d], 1)
            x[:, d] = (probs.cumsum(1) < u[:, d : d + 1]).sum(1).clamp(max=self.levels - 1)
        return x

    def sample_raster(self, u):
        """The classic mistake: sampling in raster order a model that was built with another order."""
        x = torch.zeros(u.shape, dtype=torch.long, device=u.device)
        for d in range(self.nin):
            probs = F.softmax(self(x)[:, :, d], 1)
            x[:, d] = (probs.cumsum(1) < u[:, d : d + 1]).sum(1).clamp(max=self.levels - 1)
        return x

"""The convolutional architectures of the zoo (``"arch": "conv"``) against the protocol and against
independent computations: the gated PixelCNN sums to one over every image of a tiny grid, sees exactly
the sub-pixels before each one (autograd), and samples its own distribution; the multi-scale flow's
log-determinant equals autograd's; the conv hybrid's bound is a bound on a normalized distribution.
Checkpoints of each round-trip through .pt and .safetensors, and the architecture is chosen by name."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch

from genloupe.engine.checkpoints.zoo import load_checkpoint, save_checkpoint
from genloupe.engine.errors import CheckpointError, ModelError
from genloupe.engine.models.base import supports_per_dim
from genloupe.engine.models.vaegan import discretized_logistic_log_prob
from genloupe.engine.models.zoo import build_model, model_class

LEVELS = 5
# Tiny configs (architecture options only; data_shape and levels come from each test).
TINY = {
    "autoregressive": {"features": 6, "layers": 3, "kernel": 3},
    "flow": {"scales": 1, "couplings": 2, "hidden": 8},
    "vaegan": {"hidden": 4, "latent": 2, "downsample": 1, "bound_k": 8},
}
FAMILIES = list(TINY)
SHAPES = [(1, 4, 4), (3, 4, 4)]


def tiny(family: str, shape=(1, 4, 4), levels: int = LEVELS, seed: int = 0, **options):
    """A tiny conv model with every weight perturbed, so that no layer is the identity (or zero) it starts as."""
    cls = model_class(family, "conv")
    config = {**cls.default_config(shape, levels), **TINY[family], **options}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(family, config)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


def grid_images(n: int, shape, levels: int = LEVELS, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, levels, (n, *shape), generator=torch.Generator().manual_seed(seed))


def model_inputs(model, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """What the engine hands log_prob: x/(L-1) for discrete models, (x+u)/L for densities."""
    levels = model.info.levels
    if model.info.discrete:
        return x.float() / (levels - 1)
    return (x.float() + torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))) / levels


def every_image(shape, levels: int) -> torch.Tensor:
    dims = math.prod(shape)
    return torch.tensor(list(itertools.product(range(levels), repeat=dims))).view(-1, *shape)


# --- the protocol -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("family", FAMILIES)
def test_protocol_conformance(family, shape):
    model = tiny(family, shape)
    info = model.info
    assert info.family == family and info.data_shape == shape and info.levels == LEVELS
    assert model.config["arch"] == "conv" and model.arch == "conv"
    assert info.discrete == (family != "flow") and info.likelihood == ("lower_bound" if family == "vaegan" else "exact")
    y = model_inputs(model, grid_images(12, shape))
    with torch.no_grad():
        log_p = model.log_prob(y)
        samples = model.sample(10, torch.Generator().manual_seed(1))
        again = model.sample(10, torch.Generator().manual_seed(1))
    assert log_p.shape == (12,) and torch.isfinite(log_p).all() and log_p.std() > 0
    assert samples.shape == (10, *shape) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples, again) and samples.std() > 0.01
    if info.discrete:  # samples lie on the grid of levels
        torch.testing.assert_close(samples * (LEVELS - 1), (samples * (LEVELS - 1)).round())
    assert supports_per_dim(model) == (family == "autoregressive")
    if supports_per_dim(model):
        torch.testing.assert_close(model.log_prob_per_dim(y).flatten(1).sum(1), log_p)


@pytest.mark.parametrize("family", ["autoregressive", "flow"])
def test_training_loss_is_nats_per_dim_of_the_engine_convention(family):
    """Discrete: -log P(x)/D. Continuous: -log p(y)/D + ln L for dequantized y (same draws)."""
    model = tiny(family, (3, 4, 4))
    x = grid_images(8, (3, 4, 4), seed=2)
    loss = model.training_loss(x, torch.Generator().manual_seed(5))
    expected = -model.log_prob(model_inputs(model, x, seed=5)).mean() / 48 + (0.0 if model.info.discrete else math.log(LEVELS))
    torch.testing.assert_close(loss, expected)


# --- the gated PixelCNN -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape, levels", [((1, 2, 2), 3), ((2, 1, 3), 2)])
def test_pixelcnn_probabilities_sum_to_one_over_all_images(shape, levels):
    model = tiny("autoregressive", shape, levels, features=4)
    every = every_image(shape, levels)
    log_p = model.log_prob(every.float() / (levels - 1)).double()
    torch.testing.assert_close(torch.logsumexp(log_p, 0), torch.zeros((), dtype=torch.float64), atol=1e-5, rtol=0)
    assert log_p.std() > 0.01  # not the uniform distribution


def test_pixelcnn_sees_exactly_the_subpixels_before_each_one():
    """Raster order over rows and columns, then channels: by autograd, each conditional's logits depend
    on every earlier sub-pixel (no blind spot, given enough layers) and on no later one."""
    shape = (3, 5, 5)
    model = tiny("autoregressive", shape, layers=4, features=12)
    inputs = (torch.rand(32, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_()
    logits = model.network(inputs)  # (N, L, C, H, W)
    order = torch.arange(75).view(5, 5, 3).permute(2, 0, 1)  # position of (c, i, j) in the ordering
    for c, i, j in itertools.product(range(3), range(5), range(5)):
        (grad,) = torch.autograd.grad(logits[:, :, c, i, j].sum(), inputs, retain_graph=True)
        seen = grad.abs().sum(0) > 0
        assert torch.equal(seen, order < order[c, i, j]), (c, i, j)


def test_pixelcnn_samples_follow_its_own_distribution():
    """Ancestral sampling over rows, columns and channels matches log_prob (chi-square over 16 images)."""
    shape, levels = (2, 1, 2), 2
    model = tiny("autoregressive", shape, levels, features=4, seed=3)
    every = every_image(shape, levels)
    expected = torch.exp(model.log_prob(every.float()).double()).detach().numpy()
    draws = (model.sample(4000, torch.Generator().manual_seed(0)) * (levels - 1)).round().long()
    index = (draws.flatten(1) * (levels ** torch.arange(3, -1, -1))).sum(1)
    counts = np.bincount(index.numpy(), minlength=16)
    assert abs(expected.sum() - 1) < 1e-6
    assert scipy.stats.chisquare(counts, expected / expected.sum() * 4000).pvalue > 1e-3


def test_pixelcnn_rejects_impossible_configs():
    with pytest.raises(ModelError, match="features >= channels"):
        tiny("autoregressive", (3, 4, 4), features=2)
    with pytest.raises(ModelError, match="odd kernel"):
        tiny("autoregressive", kernel=4)


# --- the multi-scale flow ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape, scales", [((1, 4, 4), 1), ((3, 4, 4), 2)])
def test_multiscale_flow_inverts_and_its_log_det_matches_autograd(shape, scales):
    model = tiny("flow", shape, scales=scales).double()
    y = model_inputs(model, grid_images(3, shape)).double()
    z, log_det = model.forward_transform(y)
    assert z.shape[1:] == (shape[0] * 4**scales, shape[1] // 2**scales, shape[2] // 2**scales)
    torch.testing.assert_close(model.inverse_transform(z), y)
    for i in range(len(y)):
        jacobian = torch.autograd.functional.jacobian(
            lambda v: model.forward_transform(v.view(1, *shape))[0].flatten(), y[i].flatten())
        sign, log_abs = torch.linalg.slogdet(jacobian)
        assert sign > 0
        torch.testing.assert_close(log_det[i], log_abs)
    base = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    torch.testing.assert_close(model.log_prob(y), base + log_det)


def test_multiscale_flow_needs_sides_divisible_by_its_scales():
    with pytest.raises(ModelError, match="divisible by 2\\^scales"):
        tiny("flow", (1, 6, 6), scales=2)


# --- the conv hybrid --------------------------------------------------------------------------------


def test_conv_hybrid_decoder_is_a_distribution_and_its_bound_stays_below_one():
    """For a fixed latent the decoder's probabilities of all 81 images of a 1x2x2 grid on 3 levels sum to 1;
    the IWAE estimates of P(x) sum to at most about 1 and rise towards it with K."""
    shape, levels = (1, 2, 2), 3
    model = tiny("vaegan", shape, levels, latent=2)
    every = every_image(shape, levels)
    with torch.no_grad():
        mean, log_scale = model.decode(torch.randn(1, 2, generator=torch.Generator().manual_seed(0)))
        decoder = discretized_logistic_log_prob(every.flatten(1).float(), mean, log_scale, levels).sum(1)
        bounds = {k: torch.logsumexp(model.iwae(every.float() / 2, torch.Generator().manual_seed(1), k=k).double(), 0)
                  for k in (1, 500)}
    torch.testing.assert_close(torch.logsumexp(decoder.double(), 0), torch.zeros((), dtype=torch.float64), atol=1e-5, rtol=0)
    assert bounds[1] < bounds[500] < 0.01
    assert bounds[500] > math.log(0.9)  # the bound is tight on so small a model: P sums to ~1


def test_conv_hybrid_heads_share_the_latent_and_refuse_bad_shapes():
    model = tiny("vaegan", (3, 4, 4))
    assert model.heads() == ["vae", "gan"] and model.head("gan").info.likelihood == "none"
    samples = model.head("gan").sample(6, torch.Generator().manual_seed(0))
    assert samples.shape == (6, 3, 4, 4) and torch.isfinite(model.head("vae").log_prob(samples)).all()
    with pytest.raises(ModelError, match="divisible by 2\\^downsample"):
        tiny("vaegan", (1, 6, 6), downsample=2)


# --- architectures by name, checkpoints ------------------------------------------------------------


def test_architecture_is_picked_by_the_config_key():
    assert type(build_model("flow", model_class("flow").default_config((1, 4, 4), 5))).__name__ == "CouplingFlow"
    assert model_class("autoregressive", "conv").__name__ == "GatedPixelCNN"
    with pytest.raises(ModelError, match="gaussian has no architecture 'conv'; architectures: mlp"):
        model_class("gaussian", "conv")
    with pytest.raises(ModelError, match="architectures: conv, mlp"):
        build_model("flow", {"arch": ["conv"]})


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoint_round_trip_gives_identical_log_prob(tmp_path, family, suffix):
    shape = (3, 4, 4)
    model = tiny(family, shape)
    path = save_checkpoint(model, tmp_path / f"model{suffix}")
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    y = model_inputs(model, grid_images(6, shape))
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(loaded.log_prob(y, generator), model.log_prob(y, torch.Generator().manual_seed(0)))
    assert torch.equal(loaded.sample(3, torch.Generator().manual_seed(2)), model.sample(3, torch.Generator().manual_seed(2)))


def test_a_checkpoint_asking_for_a_huge_conv_model_is_refused_before_allocating(tmp_path):
    model = tiny("autoregressive")
    path = save_checkpoint(model, tmp_path / "model.pt")
    content = torch.load(path, weights_only=True)
    content["config"] = {**content["config"], "features": 1_000_000}  # ~10^13 weights on the meta device
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="config implies .* bytes of weights"):  # read from the meta device
        load_checkpoint(path)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", FAMILIES)
def test_conv_models_run_on_cuda(family):
    shape = (3, 4, 4)
    model = tiny(family, shape)
    y = model_inputs(model, grid_images(8, shape))
    on_gpu = tiny(family, shape).to("cuda")
    expected = model.log_prob(y, torch.Generator().manual_seed(0))
    got = on_gpu.log_prob(y.cuda(), torch.Generator(device="cuda").manual_seed(0)).cpu()
    if family == "vaegan":  # the IWAE draws differ between devices: compare the deterministic decoder instead
        torch.testing.assert_close(on_gpu.decode(torch.ones(2, 2, device="cuda"))[0].cpu(), model.decode(torch.ones(2, 2))[0],
                                   rtol=1e-4, atol=1e-4)
        assert torch.isfinite(got).all()
    else:
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)
    samples = on_gpu.sample(4, torch.Generator(device="cuda").manual_seed(0))
    assert samples.device.type == "cuda" and samples.min() >= 0 and samples.max() <= 1

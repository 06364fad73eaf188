"""NoiseMixture: q = (1 - w) p + w u, the trap of likelihood.md ("99% noise loses only ln 100 nats"),
checked against brute force and the demo checkpoints, and the suggestions that must expose it."""

from __future__ import annotations

import itertools
import math
from importlib.resources import files

import numpy as np
import pytest
import torch

from genloupe.engine.blocks import BLOCK, block_generator
from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.errors import ModelError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.models.noise_mixture import NoiseMixture
from genloupe.engine.models.zoo import FAMILIES, build_model, family_names
from genloupe.engine.sampling import draw_samples
from genloupe.engine.session.suggestions import suggest_all

DEMO = files("genloupe.assets") / "demo"
LEVELS, DIMS = 17, 64  # the digits: 8x8 images on 17 levels
LOG_UNIFORM = -DIMS * math.log(LEVELS)  # log P(x) of any digit-shaped image under the uniform grid model


@pytest.fixture(scope="module")
def digits():
    return open_data("digits")


@pytest.fixture(scope="module")
def autoregressive():
    """The demo MADE: a discrete model with a good likelihood (about 2 bits/dim on test digits)."""
    return open_model(str(DEMO / "autoregressive.pt"))


def tiny_made(shape=(1, 2, 2), levels=3):
    family_names()  # registers the families
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("autoregressive", {**FAMILIES["autoregressive"].default_config(shape, levels), "hidden": [8]})
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.5 * torch.randn_like(parameter))
    return model.eval()


def noise_mask(model: NoiseMixture, n: int, seed: int = 0) -> np.ndarray:
    """Which of draw_samples(model, n, seed) are noise: each block's generator, asked for its first draws."""
    cpu = torch.device("cpu")
    return np.concatenate([
        model.noise_choice(min(n, (block + 1) * BLOCK) - block * BLOCK, block_generator(seed, block, cpu)).numpy()
        for block in range((n + BLOCK - 1) // BLOCK)
    ])


# -- the distribution ---------------------------------------------------------------------------------------------


def test_a_discrete_mixture_sums_to_one_over_the_whole_grid():
    base = tiny_made()
    images = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.float32).view(-1, 1, 2, 2) / 2
    with torch.no_grad():
        p = base.log_prob(images).double()
        q = NoiseMixture(base, 0.3).log_prob(images).double()
    assert len(images) == 81
    assert torch.exp(p).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.exp(q).sum().item() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(torch.exp(q).numpy(), (0.7 * torch.exp(p) + 0.3 / 81).numpy(), rtol=1e-5)


def test_continuous_noise_is_the_unit_density_and_log_space_never_underflows():
    gaussian = open_model(str(DEMO / "gaussian.pt"))
    y = torch.rand((5, 1, 8, 8), generator=torch.Generator().manual_seed(1))  # noise: p(y) underflows float32
    with torch.no_grad():
        p = gaussian.log_prob(y).double()
        q = NoiseMixture(gaussian, 0.25).log_prob(y).double()
    assert (p < -200).all()  # exp(p) is 0 in float32
    np.testing.assert_allclose(q.numpy(), np.logaddexp(p.numpy() + math.log(0.75), math.log(0.25)), atol=1e-5)


def test_info_keeps_the_likelihood_kind_and_drops_per_dim(autoregressive):
    info = NoiseMixture(autoregressive, 0.99).info
    base = autoregressive.info
    assert info.name == f"{base.name} + 0.99 noise"
    assert (info.likelihood, info.estimator, info.discrete, info.levels, info.data_shape) == (
        base.likelihood, base.estimator, base.discrete, base.levels, base.data_shape)
    assert base.per_dim and not info.per_dim
    assert evaluate_likelihood(NoiseMixture(autoregressive, 0.5), np.zeros((2, 1, 8, 8), int), LEVELS,
                               per_dim=True, device="cpu").per_dim_bits is None


def test_a_bound_model_passes_its_k_and_draws_through(digits):
    """The VAE head's IWAE-K: same seed, same draws, so the mixture sits exactly ln 2 below (w = 0.5)."""
    vae = open_model(str(DEMO / "vaegan.pt") + "#vae")
    images = digits.split("test").images[:64]
    base = evaluate_likelihood(vae, images, LEVELS, k_bound=8, device="cpu")
    mixed = evaluate_likelihood(NoiseMixture(vae, 0.5), images, LEVELS, k_bound=8, device="cpu")
    assert mixed.convention.kind == "lower_bound" and mixed.convention.k_bound == 8
    np.testing.assert_allclose(base.log_px - mixed.log_px, math.log(2), atol=1e-4)


@pytest.mark.parametrize("weight", [0.0, 1.0, -0.1, 1.5])
def test_the_weight_must_lie_strictly_inside_zero_one(autoregressive, weight):
    with pytest.raises(ModelError, match="noise weight"):
        NoiseMixture(autoregressive, weight)


def test_a_model_without_likelihood_cannot_be_mixed():
    gan = open_model(str(DEMO / "vaegan.pt") + "#gan")
    with pytest.raises(ModelError, match="no likelihood"):
        NoiseMixture(gan, 0.5)


def test_sample_draws_choices_then_base_samples_then_noise(autoregressive):
    """The documented draw order, which is what lets noise_choice tell which samples are noise."""
    mixture = NoiseMixture(autoregressive, 0.4)
    with torch.no_grad():
        samples = mixture.sample(200, torch.Generator().manual_seed(3))
        replay = torch.Generator().manual_seed(3)
        mask = mixture.noise_choice(200, replay)
        base = autoregressive.sample(200, replay)
    assert 0.25 < mask.float().mean() < 0.55
    torch.testing.assert_close(samples[~mask], base[~mask])
    assert not torch.equal(samples[mask], base[mask])


# -- the trap: 99% noise, ln 100 nats -------------------------------------------------------------------------------


def test_ninety_nine_percent_noise_costs_real_digits_at_most_ln_100_nats(digits, autoregressive):
    test = digits.split("test")
    mixture = NoiseMixture(autoregressive, 0.99)
    base = evaluate_likelihood(autoregressive, test.images, LEVELS, device="cpu")
    mixed = evaluate_likelihood(mixture, test.images, LEVELS, device="cpu")
    drop = base.log_px - mixed.log_px
    assert drop.max() <= math.log(100) + 1e-4  # log q >= log(1 - w) + log p, image by image
    # Real digits score far above the noise floor, so the whole ln 100 is lost and nothing is gained back:
    assert drop.min() >= math.log(100) - 1e-3
    assert mixed.mean_bpd - base.mean_bpd == pytest.approx(math.log(100) / (DIMS * math.log(2)), abs=1e-4)  # 0.104
    # ... and by held-out likelihood the 99%-noise model still beats the clean demo Gaussian and mixture.
    for clean in ("gaussian", "mixture"):
        assert mixed.mean_bpd < evaluate_likelihood(open_model(str(DEMO / f"{clean}.pt")), test.images, LEVELS,
                                                    device="cpu").mean_bpd


def test_ninety_nine_percent_of_the_samples_are_uniform_noise(autoregressive):
    n = 2000
    mixture = NoiseMixture(autoregressive, 0.99)
    samples = draw_samples(mixture, n, seed=5, device="cpu")
    mask = noise_mask(mixture, n, seed=5)
    assert abs(mask.mean() - 0.99) < 0.0075  # 3.4 binomial standard deviations
    # Independently of the mask: the base finds noise far worse than uniform and its own samples far better.
    under_base = evaluate_likelihood(autoregressive, samples, LEVELS, device="cpu").log_px
    np.testing.assert_array_equal(under_base < LOG_UNIFORM, mask)
    # Discrete noise is uniform over the 17 levels, end levels included.
    frequencies = np.bincount(samples[mask].ravel(), minlength=LEVELS) / samples[mask].size
    np.testing.assert_allclose(frequencies, 1 / LEVELS, atol=0.004)


# -- suggestions catch the noise the likelihood ranks high ------------------------------------------------------------


def test_calibrated_suggestions_name_the_noise_that_ranks_in_the_samples_top_fifth(digits, autoregressive):
    """90% uniform noise mixed into the demo MADE, evaluated end to end (400 samples, CPU).

    Under q every image scores at least the floor log w - D ln L, and a noise image scores exactly that
    floor (u is flat and p(noise) is some e^-400, nothing in float). With w = 0.9 the floor is the samples'
    own 80th percentile: ranked against the samples, noise looks "likely". Ranked against held-out real
    images (log q ≥ log 0.1 + log p, some 90 nats above the floor) it is far below all of them, so the
    calibrated ``unlikely`` test names it while the stated false-flag rate holds for real images.

    Which samples are noise is known without looking at them: NoiseMixture.sample draws its choices
    first from the generator it gets, and draw_samples gives block b the generator
    block_generator(seed, b), so noise_choice on fresh copies of those generators replays the choices.
    """
    n, top = 400, 0.2
    mixture = NoiseMixture(autoregressive, 0.9)
    result = evaluate(mixture, digits.split("test"), EvaluationSettings(n_samples=n, device="cpu", metrics=("ll", "pr")),
                      training=digits.split("train").images)
    log_px = result.columns["sample"]["log_px"]
    noise = noise_mask(mixture, n)
    assert 0.85 < noise.mean() < 0.95

    floor = math.log(0.9) + LOG_UNIFORM
    np.testing.assert_allclose(log_px[noise], floor, atol=1e-3)
    assert (log_px[~noise] > floor + 10).all()  # the MADE's own samples: some 2 bits/dim, far above
    assert floor >= np.quantile(log_px, 1 - top)  # noise is in the samples' top fifth by likelihood
    assert floor < result.columns["reference"]["log_px"].min() - 50  # and below every held-out real image

    bad = next(s for s in suggest_all(result.columns["sample"], result.columns["reference"]) if s.label == "bad")
    suggested = np.zeros(n, bool)
    suggested[bad.ids] = True
    precision = (suggested & noise).sum() / suggested.sum()
    recall = (suggested & noise).sum() / noise.sum()
    assert precision > 0.9 and recall > 0.99, (precision, recall)
    assert bad.false_flag_rate <= 0.05
    unlikely = next(t for t in bad.tests if t.name == "unlikely")
    assert noise[unlikely.ids].all() and len(unlikely.ids) == noise.sum()

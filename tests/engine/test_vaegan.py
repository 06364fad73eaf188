"""The VAE-GAN hybrid: discrete decoder, IWAE bounds, heads, and training on the digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from genloupe.engine.data.dataset import Dataset
from genloupe.engine.errors import Cancelled, DataError, ModelError
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.models.vaegan import (
    DRAWS_PER_CHUNK,
    VAEGAN,
    discretized_logistic_log_prob,
    discretized_logistic_sample,
)
from genloupe.engine.models.zoo import FAMILIES
from genloupe.engine.progress import TaskProgress

LEVELS = 17
UNIFORM_BPD = math.log2(LEVELS)  # 4.087
TINY = {"hidden": 128, "latent": 16, "epochs": 12, "patience": 4}


def seeded(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def bpd(log_px: torch.Tensor, dims: int = 64) -> float:
    return float(-log_px.double().mean() / (dims * math.log(2)))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small MLPs gain nothing from threads, and on a shared 2-core runner spinning OpenMP threads
    make them ~7x slower; results do not depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    data = load_digits()
    return Dataset("digits", data.images.astype(np.uint8)[:, None], LEVELS, labels=data.target)


@pytest.fixture(scope="module")
def trained(digits: Dataset) -> VAEGAN:
    config = {**VAEGAN.default_config(digits.shape, LEVELS), **TINY}
    return VAEGAN.fit(digits.split("train"), digits.split("val"), config=config, epochs=None, seed=0,
                      device="cpu", progress=None)


@pytest.fixture(scope="module")
def test_images(digits: Dataset) -> torch.Tensor:
    return torch.as_tensor(digits.split("test").images, dtype=torch.float32) / (LEVELS - 1)


def untrained(**options) -> VAEGAN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return VAEGAN(**{**VAEGAN.default_config((1, 8, 8), LEVELS), **TINY, **options})


def test_decoder_is_a_distribution_over_the_levels() -> None:
    mean = torch.tensor([-0.3, 0.0, 0.2, 0.5, 0.97, 1.4])
    log_scale = torch.tensor([-6.0, -2.0, -1.0, 0.5, -4.0, -3.0])
    levels = torch.arange(LEVELS, dtype=torch.float32)[:, None].expand(LEVELS, len(mean))
    log_p = discretized_logistic_log_prob(levels, mean.expand_as(levels), log_scale.expand_as(levels), LEVELS)
    assert torch.allclose(log_p.exp().sum(0), torch.ones(len(mean)), atol=1e-5)
    assert int(log_p[:, 1].argmax()) == 0 and int(log_p[:, 4].argmax()) == 16  # mass where the mean is
    draws = discretized_logistic_sample(torch.full((4000,), 0.5), torch.full((4000,), -3.0), LEVELS, seeded(0))
    assert set(draws.unique().tolist()) <= set(range(LEVELS)) and abs(float(draws.mean()) - 8.0) < 0.2


def test_family_is_registered_with_two_heads_sharing_the_networks() -> None:
    model = untrained()
    assert FAMILIES["vaegan"] is VAEGAN and model.heads() == ["vae", "gan"]
    vae, gan = model.head("vae"), model.head("gan")
    assert model.head("") is model and model.info == vae.info
    assert (vae.info.name, vae.info.family, vae.info.likelihood) == ("vaegan/vae", "vaegan", "lower_bound")
    assert (vae.info.estimator, vae.info.bound_k, vae.info.discrete, vae.info.levels) == ("IWAE", 64, True, LEVELS)
    assert (gan.info.name, gan.info.family, gan.info.likelihood) == ("vaegan/gan", "vaegan", "none")
    assert gan.info.data_shape == vae.info.data_shape == (1, 8, 8)
    assert {id(p) for p in vae.parameters()} == {id(p) for p in gan.parameters()} == {id(p) for p in model.parameters()}
    with pytest.raises(ModelError, match="no head 'flow'"):
        model.head("flow")
    with pytest.raises(ModelError, match="unknown config keys"):
        VAEGAN((1, 8, 8), LEVELS, width=3)


def test_config_is_json_and_rebuilds_the_same_model(test_images: torch.Tensor) -> None:
    model = untrained()
    rebuilt = VAEGAN(**json.loads(json.dumps(model.config)))
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config == model.config
    assert torch.equal(rebuilt.log_prob(test_images[:8], seeded(9)), model.log_prob(test_images[:8], seeded(9)))


def test_gan_head_samples_in_range_and_has_no_likelihood() -> None:
    gan = untrained().head("gan")
    samples = gan.sample(32, seeded(1))
    assert samples.shape == (32, 1, 8, 8) and samples.dtype == torch.float32
    assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0 and float(samples.std()) > 0
    assert torch.equal(samples, gan.sample(32, seeded(1)))
    with pytest.raises(ModelError, match="score its samples under the VAE head"):
        gan.log_prob(samples)
    with pytest.raises(ModelError, match="no tractable likelihood"):
        evaluate_likelihood(gan, np.zeros((2, 1, 8, 8), np.uint8), LEVELS, device="cpu")


def test_vae_samples_lie_on_the_grid() -> None:
    samples = untrained().head("vae").sample(16, seeded(2))
    assert samples.shape == (16, 1, 8, 8)
    grid = samples * (LEVELS - 1)
    assert torch.allclose(grid, grid.round(), atol=1e-5) and float(grid.min()) >= 0 and float(grid.max()) <= LEVELS - 1


def test_chunked_iwae_equals_one_logsumexp_over_the_same_draws(test_images: torch.Tensor) -> None:
    model = untrained()
    x = model.to_levels(test_images[:10])
    with torch.no_grad():
        mu, logvar = model.encode(test_images[:10])
        eps = torch.randn((300, *mu.shape), generator=seeded(3))
        whole = torch.logsumexp(model.log_weights(x, mu, logvar, eps), 0) - math.log(300)
        for size in (1, 7, 128, 300):
            chunked = model.bound_from_draws(x, mu, logvar, eps.split(size))
            assert torch.allclose(chunked, whole, atol=1e-4, rtol=0), size


def test_iwae_is_deterministic_for_a_generator(test_images: torch.Tensor) -> None:
    vae = untrained().head("vae")
    first = vae.log_prob(test_images[:20], seeded(4), k=100)
    assert torch.equal(first, vae.log_prob(test_images[:20], seeded(4), k=100))
    assert not torch.equal(first, vae.log_prob(test_images[:20], seeded(5), k=100))
    assert torch.equal(vae.elbo(test_images[:20], seeded(4)), vae.elbo(test_images[:20], seeded(4)))
    with pytest.raises(ModelError, match="K >= 1"):
        vae.log_prob(test_images[:2], seeded(4), k=0)
    with pytest.raises(ModelError, match="expects images of shape"):
        vae.log_prob(torch.zeros(2, 1, 4, 4))


def test_iwae_5000_runs_in_bounded_chunks(test_images: torch.Tensor) -> None:
    model = untrained()
    rows: list[int] = []
    hook = model.decoder.register_forward_hook(lambda module, inputs, output: rows.append(inputs[0].shape[0]))
    try:
        log_px = model.head("vae").log_prob(test_images[:4], seeded(6), k=5000)
    finally:
        hook.remove()
    assert log_px.shape == (4,) and bool(torch.isfinite(log_px).all())
    assert max(rows) <= DRAWS_PER_CHUNK and sum(rows) == 5000 and len(rows) == math.ceil(5000 / DRAWS_PER_CHUNK)


def test_iwae_bounds_rise_with_k_on_the_test_split(trained: VAEGAN, test_images: torch.Tensor) -> None:
    """Mean over the 359 test digits, each K's bound averaged over repeated estimates."""
    vae = trained.head("vae")

    def mean_bound(k: int, repeats: int) -> float:
        return float(np.mean([vae.log_prob(test_images, seeded(100 * k + r), k=k).mean() for r in range(repeats)]))

    k1, k64, k1024 = mean_bound(1, 16), mean_bound(64, 8), mean_bound(1024, 1)
    assert k1 < k64 < k1024


def test_trained_vae_head_beats_the_uniform_baseline(trained: VAEGAN, digits: Dataset, test_images: torch.Tensor) -> None:
    vae = trained.head("vae")
    elbo_bpd = bpd(vae.elbo(test_images, seeded(7)))
    result = evaluate_likelihood(vae, digits.split("test").images, LEVELS, k_bound=64, device="cpu")
    assert result.convention.kind == "lower_bound" and result.convention.k_bound == 64
    assert result.mean_bpd < elbo_bpd + 0.01 and elbo_bpd < UNIFORM_BPD - 0.5
    assert result.mean_bpd < UNIFORM_BPD - 0.5


def test_gan_samples_can_be_scored_under_the_vae_bound(trained: VAEGAN) -> None:
    samples = trained.head("gan").sample(64, seeded(8))
    levels = torch.round(samples * (LEVELS - 1)).to(torch.uint8).numpy()
    result = evaluate_likelihood(trained.head("vae"), levels, LEVELS, k_bound=16, device="cpu")
    assert result.log_px.shape == (64,) and np.isfinite(result.log_px).all()


def test_training_is_deterministic_and_reports_progress(digits: Dataset) -> None:
    config = {**VAEGAN.default_config(digits.shape, LEVELS), "hidden": 16, "latent": 4}
    small = digits.subset(np.arange(200))
    updates: list[tuple[int, int, str]] = []
    progress = TaskProgress(on_update=lambda done, total, stage: updates.append((done, total, stage)))
    first = VAEGAN.fit(small, digits.subset(np.arange(200, 260)), config=config, epochs=3, seed=11,
                       device="cpu", progress=progress)
    second = VAEGAN.fit(small, digits.subset(np.arange(200, 260)), config=config, epochs=3, seed=11,
                        device="cpu", progress=None)
    assert updates[0] == (0, 3, "train") and updates[-1][1:] == (3, "train") and len(updates) >= 2
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert not first.training and first.config == config


def test_training_checks_data_and_honours_cancel(digits: Dataset) -> None:
    config = {**VAEGAN.default_config(digits.shape, LEVELS), "hidden": 16, "latent": 4}
    wrong = Dataset("wide", np.zeros((10, 1, 8, 9), np.uint8), LEVELS)
    with pytest.raises(DataError, match="do not fit the vaegan config"):
        VAEGAN.fit(wrong, wrong, config=config, epochs=1, seed=0, device="cpu", progress=None)
    progress = TaskProgress()
    progress.cancel()
    with pytest.raises(Cancelled):
        VAEGAN.fit(digits.subset(np.arange(100)), digits.subset(np.arange(100, 120)), config=config, epochs=2,
                   seed=0, device="cpu", progress=progress)

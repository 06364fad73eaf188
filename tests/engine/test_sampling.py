"""Sampling: quantization inverts each model's own convention; batch-size invariance; bad samplers."""

import numpy as np
import pytest
import torch

from genloupe.app.demo import demo_model_path
from genloupe.engine.checkpoints import open_model
from genloupe.engine.errors import ModelError
from genloupe.engine.models.base import ModelInfo
from genloupe.engine.blocks import block_generator
from genloupe.engine.sampling import draw_samples, on_grid, quantize


def test_quantize_inverts_grid_values_and_dequantization():
    x = torch.arange(17).repeat(100)
    assert torch.equal(quantize(x / 16, 17, grid=True), x.to(torch.int32))
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    assert torch.equal(quantize((x + u) / 17, 17, grid=False), x.to(torch.int32))
    assert quantize(torch.tensor([-0.5, 1.0, 1.5]), 17, grid=False).tolist() == [0, 16, 16]


def test_generators_without_likelihood_are_rounded_like_grid_values():
    gan = open_model(demo_model_path("GAN head (hybrid)"))
    assert on_grid(gan.info) and not on_grid(open_model(demo_model_path("flow (RealNVP)")).info)
    with torch.inference_mode():
        values = gan.sample(64, generator=block_generator(0, 0, torch.device("cpu")))
    expected = torch.round(values.clamp(0, 1) * 16).numpy()
    assert np.array_equal(draw_samples(gan, 64, seed=0, device="cpu"), expected)


def test_samples_do_not_depend_on_batch_size():
    model = open_model(demo_model_path("flow (RealNVP)"))
    a = draw_samples(model, 300, seed=5, batch_size=64, device="cpu")
    b = draw_samples(model, 300, seed=5, batch_size=1024, device="cpu")
    assert a.dtype == np.uint8 and a.shape == (300, 1, 8, 8) and np.array_equal(a, b)
    assert not np.array_equal(a, draw_samples(model, 300, seed=6, device="cpu"))


class BadSampler(torch.nn.Module):
    info = ModelInfo("bad", "test", (1, 8, 8), 17, "none", discrete=False)

    def __init__(self, output):
        super().__init__()
        self.output = output

    def sample(self, n, generator=None):
        return self.output(n)


@pytest.mark.parametrize(
    "output, message",
    [(lambda n: torch.zeros(n, 64), "expected"), (lambda n: torch.full((n, 1, 8, 8), float("nan")), "NaN"),
     (lambda n: np.zeros((n, 1, 8, 8)), "ndarray")],
)
def test_bad_samplers_are_named(output, message):
    with pytest.raises(ModelError, match=message):
        draw_samples(BadSampler(output), 10, device="cpu")

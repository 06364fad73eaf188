"""The zoo at real shapes on the shipped stand-in sets: the stand-ins themselves (opened by name, rebuilt
bit for bit by their script), the diagonal Gaussian's closed-form fit (the maximum-likelihood solution,
no worse than gradient training), and one epoch of each conv architecture through ``train_model``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from genloupe.assets.build_standins import build_set
from genloupe.engine.checkpoints.zoo import load_checkpoint, save_checkpoint
from genloupe.engine.data import Dataset, open_data
from genloupe.engine.errors import DataError, ModelError
from genloupe.engine.models.gaussian import DiagonalGaussian
from genloupe.engine.progress import TaskProgress
from genloupe.engine.training import _fit, train_model, validation_bpd


@pytest.fixture(scope="module")
def grey() -> Dataset:
    return open_data("digits28")


@pytest.fixture(scope="module")
def small(grey) -> tuple[Dataset, Dataset]:
    """A few hundred 28x28 training images and a validation split."""
    return grey.split("train").subset(np.arange(256)), grey.split("val").subset(np.arange(64))


# --- the stand-ins ----------------------------------------------------------------------------------


def test_standins_open_by_name_at_real_shapes(grey):
    colour = open_data("digits32rgb")
    assert (grey.shape, grey.levels, len(grey)) == ((1, 28, 28), 256, 5391)
    assert (colour.shape, colour.levels, len(colour)) == ((3, 32, 32), 256, 1797)
    for data in (grey, colour):
        assert data.format == "stand-in" and data.images.dtype == np.uint8
        assert data.images.max() == 255 and np.array_equal(np.unique(data.labels), np.arange(10))
        assert data.images.std() > 20  # pictures, not a constant
    assert grey.images.mean() < 64 and np.abs(colour.images[:, 0].astype(int) - colour.images[:, 1]).mean() > 10
    assert open_data("digits28", levels=300).levels == 300
    with pytest.raises(DataError, match="no such file"):
        open_data("digits29")


def test_standins_are_rebuilt_bit_for_bit_by_their_script(grey):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = build_set("digits32rgb", bunch.images, bunch.target)
    shipped = open_data("digits32rgb")
    assert np.array_equal(images, shipped.images) and np.array_equal(labels, shipped.labels)
    prefix, _ = build_set("digits28", bunch.images[:40], bunch.target[:40])  # draws are per image, in order
    assert np.array_equal(prefix, grey.images[: len(prefix)])


# --- the diagonal Gaussian in closed form ----------------------------------------------------------


def expected_log_density(model: DiagonalGaussian, x: torch.Tensor) -> torch.Tensor:
    """E_u[log N((x + u)/L; m, s^2)] averaged over images, exact: E[(y - m)^2] = ((x + 1/2)/L - m)^2 + 1/(12 L^2)."""
    levels = model.levels
    mean, log_std = model.mean.double(), model.log_std.double()
    square = ((x.double() + 0.5) / levels - mean) ** 2 + 1.0 / (12 * levels**2)
    return (-0.5 * square * torch.exp(-2 * log_std) - log_std - 0.5 * math.log(2 * math.pi)).mean(0).sum()


def test_closed_form_fit_is_the_maximum_likelihood_solution(small):
    train, val = small
    model, report = train_model("gaussian", train, val, device="cpu")
    assert report.epochs is None and report.history == [] and not model.training
    x = torch.as_tensor(train.images.astype(np.int64))
    # the exact expected log-likelihood over the dequantization noise is stationary at the fit ...
    parameters = [model.mean, model.log_std]
    gradients = torch.autograd.grad(expected_log_density(model, x), parameters)
    assert max(float(g.abs().max()) for g in gradients) < 1e-4
    # ... and is the moments of many dequantized draws (scipy's maximum-likelihood normal fit)
    draws = ((x[:, 0, 14, 10:13].double().repeat(200, 1) + torch.rand(200 * len(x), 3, dtype=torch.float64,
              generator=torch.Generator().manual_seed(0))) / 256).numpy()
    for column, pixel in enumerate(range(10, 13)):
        mean, std = scipy.stats.norm.fit(draws[:, column])
        assert mean == pytest.approx(model.mean[0, 14, pixel].item(), abs=2e-4)
        assert std == pytest.approx(model.log_std[0, 14, pixel].exp().item(), rel=2e-3)


def test_closed_form_fit_is_no_worse_than_gradient_training(grey):
    """Against the gradient training this family had before (Adam from the moments of one noise draw,
    early stopping on the validation split), on the full training split and on the untouched test split."""
    train, val, test = (grey.split(name) for name in ("train", "val", "test"))
    closed, _ = train_model("gaussian", train, val, device="cpu")
    settings = {"epochs": 30, "patience": 3, "batch_size": 64, "lr": 1e-2, "weight_decay": 0.0}
    config = DiagonalGaussian.default_config(train.shape, train.levels)
    trained, history = _fit(DiagonalGaussian, train, val, config, settings, 0, torch.device("cpu"), TaskProgress())
    assert len(history) > 3  # it did train
    for data in (train, test):  # the same noise for both models: a paired comparison
        assert validation_bpd(closed, data) <= validation_bpd(trained, data)


# --- one epoch of each conv architecture -------------------------------------------------------------


@pytest.mark.parametrize(
    "family, config",
    [("autoregressive", {"features": 8, "layers": 2, "kernel": 3}),
     ("flow", {"scales": 1, "couplings": 1, "hidden": 8}),
     ("vaegan", {"hidden": 4, "latent": 4, "downsample": 2, "bound_k": 4})],
)
def test_conv_architectures_train_on_the_28x28_standin_and_save(small, tmp_path, family, config):
    train, val = small
    model, report = train_model(family, train, val, config={"arch": "conv", **config}, epochs=1, seed=0, device="cpu")
    assert model.arch == "conv" and model.config["arch"] == "conv" and math.isfinite(report.best_val_bpd)
    assert 0 < report.best_val_bpd < 12
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "model.safetensors"))
    assert type(loaded) is type(model) and loaded.train_info["data_checksum"] == train.checksum()


def test_bad_architecture_requests_are_one_line_errors(small):
    train, val = small
    with pytest.raises(ModelError, match="mixture has no architecture 'conv'"):
        train_model("mixture", train, val, config={"arch": "conv"})
    with pytest.raises(ModelError, match="unknown autoregressive config keys hidden"):
        train_model("autoregressive", train, val, config={"arch": "conv", "hidden": [8]})
    with pytest.raises(ModelError, match="divisible"):
        train_model("flow", train, val, config={"arch": "conv", "scales": 3}, epochs=1)

"""The zoo families against the protocol and against independent computations (scipy, brute force,
autograd), and their checkpoints (.pt, .safetensors) through save, load and refusal of bad files."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from safetensors.torch import save_file

from genloupe.engine.checkpoints.zoo import checkpoint_header, load_checkpoint, save_checkpoint
from genloupe.engine.errors import CheckpointError, ModelError
from genloupe.engine.models.base import supports_per_dim
from genloupe.engine.models.flow import logit_transform
from genloupe.engine.models.zoo import FAMILIES, build_model, family_names

SHAPE = (1, 4, 4)
LEVELS = 5
TINY = {
    "gaussian": {},
    "mixture": {"components": 3},
    "flow": {"couplings": 4, "hidden": 16},
    "autoregressive": {"hidden": [24, 24]},
}
ZOO = ["gaussian", "mixture", "mixture-diag", "flow", "flow-conv", "autoregressive"]
VARIANTS = {"mixture-diag": ("mixture", {"covariance": "diag"}), "flow-conv": ("flow", {"net": "conv", "hidden": 8})}


def tiny(name: str, shape: tuple[int, int, int] = SHAPE, levels: int = LEVELS, seed: int = 0, **options):
    """A tiny model with every weight perturbed, so that no layer is the identity it starts as."""
    family, extra = VARIANTS.get(name, (name, {}))
    family_names()  # registers the families
    config = {**FAMILIES[family].default_config(shape, levels), **TINY[family], **extra, **options}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(family, config)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


def grid_images(n: int, seed: int = 0, shape=SHAPE, levels=LEVELS) -> torch.Tensor:
    return torch.randint(0, levels, (n, *shape), generator=torch.Generator().manual_seed(seed))


def model_inputs(model, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """What the engine hands log_prob: x/(L-1) for discrete models, (x+u)/L for densities."""
    levels = model.info.levels
    if model.info.discrete:
        return x.float() / (levels - 1)
    return (x.float() + torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))) / levels


# --- the protocol -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ZOO)
def test_protocol_conformance(name):
    model = tiny(name)
    info = model.info
    assert info.family == VARIANTS.get(name, (name,))[0] and info.data_shape == SHAPE and info.levels == LEVELS
    assert info.likelihood == "exact" and info.discrete == (name == "autoregressive") and info.estimator
    y = model_inputs(model, grid_images(32))
    with torch.no_grad():
        log_p = model.log_prob(y)
        samples = model.sample(50, torch.Generator().manual_seed(1))
        again = model.sample(50, torch.Generator().manual_seed(1))
    assert log_p.shape == (32,) and torch.isfinite(log_p).all()
    assert samples.shape == (50, *SHAPE) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples, again)
    assert samples.std() > 0.01  # draws, not a constant
    if supports_per_dim(model):
        per_dim = model.log_prob_per_dim(y)
        assert per_dim.shape == y.shape
        torch.testing.assert_close(per_dim.flatten(1).sum(1), log_p)
    assert info.per_dim == (name in ("gaussian", "autoregressive"))


@pytest.mark.parametrize("name", ZOO)
def test_training_loss_is_nats_per_dim_of_the_engine_convention(name):
    """Discrete: -log P(x)/D. Continuous: -log p(y)/D + ln L for dequantized y (same draws)."""
    model = tiny(name)
    x = grid_images(16, seed=2)
    loss = model.training_loss(x, torch.Generator().manual_seed(5))
    y = model_inputs(model, x, seed=5)
    expected = -model.log_prob(y).mean() / 16 + (0.0 if model.info.discrete else math.log(LEVELS))
    torch.testing.assert_close(loss, expected)


def test_autoregressive_samples_lie_on_the_grid():
    samples = tiny("autoregressive").sample(40, torch.Generator().manual_seed(0)) * (LEVELS - 1)
    torch.testing.assert_close(samples, samples.round())


def test_a_cpu_generator_drives_a_model_on_another_device_and_batches_do_not_interfere():
    model = tiny("mixture")
    both = model.sample(8, torch.Generator().manual_seed(3))
    assert torch.equal(model.sample(8, torch.Generator().manual_seed(3)), both)
    y = model_inputs(model, grid_images(8))
    torch.testing.assert_close(torch.cat([model.log_prob(y[:3]), model.log_prob(y[3:])]), model.log_prob(y))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ZOO)
def test_models_run_on_cuda(name):
    model = tiny(name)
    y = model_inputs(model, grid_images(16))
    on_gpu = model.to("cuda")
    torch.testing.assert_close(on_gpu.log_prob(y.cuda()).cpu(), tiny(name).log_prob(y), rtol=1e-4, atol=1e-3)
    samples = on_gpu.sample(8, torch.Generator(device="cuda").manual_seed(0))
    assert samples.device.type == "cuda" and samples.min() >= 0 and samples.max() <= 1
    assert on_gpu.sample(8, torch.Generator().manual_seed(0)).device.type == "cuda"


# --- exactness against independent computations ----------------------------------------------------


def test_diagonal_gaussian_matches_scipy():
    model = tiny("gaussian")
    y = model_inputs(model, grid_images(10)).double()
    mean, std = model.mean.detach().double(), model.log_std.detach().double().exp()
    expected = scipy.stats.norm(mean.numpy(), std.numpy()).logpdf(y.numpy())
    np.testing.assert_allclose(model.log_prob_per_dim(y.float()).detach().numpy(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_mixture_is_logsumexp_of_its_components(covariance):
    """Against scipy's multivariate normal, including points so far off that exp(log N) underflows."""
    model = tiny("mixture", covariance=covariance).double()
    y = model_inputs(model, grid_images(6)).double()
    y = torch.cat([y, y[:2] + 40.0])  # far from every component: naive sum of densities is 0
    weights = torch.softmax(model.logits, 0).detach().numpy()
    means = model.means.detach().numpy()
    if covariance == "full":
        factor = model.precision_cholesky().detach().numpy()
        covs = np.linalg.inv(factor @ factor.transpose(0, 2, 1))
    else:
        covs = np.stack([np.diag(s) for s in np.exp(2 * model.log_scale.detach().numpy())])
    flat = y.flatten(1).numpy()
    per_component = np.stack([scipy.stats.multivariate_normal(m, c).logpdf(flat) for m, c in zip(means, covs)])
    expected = scipy.special.logsumexp(per_component + np.log(weights)[:, None], axis=0)
    got = model.log_prob(y).detach().numpy()
    assert np.all(np.isfinite(got)) and got[-1] < -1000
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-8)


def test_logit_pretransform_log_det_matches_autograd_and_the_formula():
    alpha = 0.05
    y = torch.rand(6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, log_det = logit_transform(y.view(1, 6), alpha)
    jacobian = torch.autograd.functional.jacobian(lambda v: logit_transform(v.view(1, 6), alpha)[0].flatten(), y)
    assert torch.count_nonzero(jacobian - torch.diag(torch.diagonal(jacobian))) == 0  # elementwise
    torch.testing.assert_close(log_det[0], torch.logdet(jacobian))
    s = alpha + (1 - 2 * alpha) * y
    torch.testing.assert_close(log_det[0], (math.log(1 - 2 * alpha) - torch.log(s) - torch.log(1 - s)).sum())


@pytest.mark.parametrize("name", ["flow", "flow-conv"])
def test_flow_inverts_and_its_log_det_matches_autograd(name):
    model = tiny(name, shape=(1, 2, 3)).double()
    y = model_inputs(model, grid_images(4, shape=(1, 2, 3))).double()
    z, log_det = model.forward_transform(y)
    torch.testing.assert_close(model.inverse_transform(z), y)
    for i in range(len(y)):
        jacobian = torch.autograd.functional.jacobian(lambda v: model.forward_transform(v.view(1, 1, 2, 3))[0].flatten(), y[i].flatten())
        sign, log_abs = torch.linalg.slogdet(jacobian)
        assert sign > 0
        torch.testing.assert_close(log_det[i], log_abs)
    base = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    torch.testing.assert_close(model.log_prob(y), base + log_det)


def test_autoregressive_probabilities_sum_to_one_over_all_images():
    """D = 3, L = 3: the 27 images' probabilities sum to 1, and each conditional ignores later pixels."""
    model = tiny("autoregressive", shape=(1, 1, 3), levels=3, hidden=[7, 5])
    every = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=torch.float32).view(27, 1, 1, 3)
    log_p = model.log_prob(every / 2).double()
    torch.testing.assert_close(torch.logsumexp(log_p, 0), torch.zeros((), dtype=torch.float64), atol=1e-6, rtol=0)
    assert log_p.std() > 0.01  # not the uniform distribution
    per_dim = model.log_prob_per_dim(every / 2)
    changed = every.clone()
    changed[..., 2] = (changed[..., 2] + 1) % 3
    torch.testing.assert_close(model.log_prob_per_dim(changed / 2)[..., :2], per_dim[..., :2])


# --- checkpoints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("name", ZOO)
def test_checkpoint_round_trip_gives_identical_log_prob(tmp_path, name, suffix):
    model = tiny(name)
    model.train_info = {"epochs": 3, "best_val_bpd": 2.5}
    path = save_checkpoint(model, tmp_path / f"model{suffix}")
    loaded = load_checkpoint(path)
    assert not loaded.training and loaded.config == model.config and loaded.train_info == model.train_info
    y = model_inputs(model, grid_images(20))
    assert torch.equal(loaded.log_prob(y), model.log_prob(y))
    assert torch.equal(loaded.sample(5, torch.Generator().manual_seed(0)), model.sample(5, torch.Generator().manual_seed(0)))
    assert not list(tmp_path.glob("*.partial"))


def pt_content(model) -> dict:
    """The dict a .pt checkpoint holds, as loading will see it."""
    return {**checkpoint_header(model), "state_dict": {k: v.clone() for k, v in model.state_dict().items()}}


def test_load_refuses_mismatched_weights_and_foreign_files(tmp_path):
    model = tiny("flow")
    good = pt_content(model)

    def refused(content, match: str, name: str = "bad.pt") -> None:
        torch.save(content, tmp_path / name)
        with pytest.raises(CheckpointError, match=match) as error:
            load_checkpoint(tmp_path / name)
        assert "\n" not in str(error.value)

    state = dict(good["state_dict"])
    renamed = {("renamed" if k == "shift" else k): v for k, v in state.items()}
    refused({**good, "state_dict": renamed}, "missing shift; unexpected renamed")
    refused({**good, "state_dict": {**state, "shift": torch.zeros(2, 2)}}, r"'shift' has shape \(2, 2\)")
    refused({**good, "state_dict": {**state, "log_scale": state["log_scale"].clone().fill_(float("nan"))}}, "NaN")
    refused({**good, "config": {**good["config"], "hidden": 17}}, "shape")
    refused({**good, "family": "diffusion"}, "unknown model family 'diffusion'")
    refused({**good, "config": {**good["config"], "net": "transformer"}}, "does not build a flow model")
    refused({**good, "version": 99}, "version 99")
    refused({**good, "format": "other"}, "format marker")
    refused(state, "format marker")
    refused({**good, "levels": 256}, "256 levels")


def test_load_refuses_bad_safetensors_and_garbage(tmp_path):
    model = tiny("gaussian")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp_path / "bare.safetensors"))
    with pytest.raises(CheckpointError, match="without GenLoupe metadata"):
        load_checkpoint(tmp_path / "bare.safetensors")
    save_file(state, str(tmp_path / "json.safetensors"), metadata={"genloupe": "{not json"})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "json.safetensors")
    (tmp_path / "garbage.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"\.pt or \.safetensors"):
        save_checkpoint(model, tmp_path / "model.bin")


class RunsCode:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_load_never_unpickles_code(tmp_path):
    marker = tmp_path / "code-ran"
    content = {**pt_content(tiny("gaussian")), "train_info": RunsCode(marker)}
    torch.save(content, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_unknown_config_values_are_model_errors():
    with pytest.raises(ModelError, match="covariance"):
        tiny("mixture", covariance="spherical")
    with pytest.raises(ModelError, match="mask"):
        tiny("flow", masks=["stripes"])

"""The README's worked example (a plain nn.Module exported as a bundle) and its checks.

Other checkpoint tests build on :func:`write_readme_bundle` and :class:`TinyGaussian`: they are the
bring-your-own-model route every researcher takes, so every test of it is a test of the README.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.export import Dim, export

from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.sampling import draw_samples

SHAPE = (1, 8, 8)


# --- the README example, as written there ----------------------------------------------------


class TinyGaussian(nn.Module):
    """A factorized Gaussian over images in [-1, 1]: a stand-in for your own model."""

    def __init__(self, shape=(1, 8, 8)):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(shape))
        self.log_std = nn.Parameter(torch.full(shape, -0.5))

    def log_prob(self, x):  # x: (N, C, H, W) in [-1, 1] -> (N,) log-density
        z = (x - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)

    def sample_from(self, eps):  # eps: (N, C, H, W) standard normal noise -> images in [-1, 1]
        return (self.mean + torch.exp(self.log_std) * eps).clamp(-1, 1)


class LogProb(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.log_prob(x)


class Sample(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, eps):
        return self.model.sample_from(eps)


def write_readme_bundle(out: Path, model: nn.Module | None = None, **meta_changes) -> Path:
    """The README's steps: export both programs with a dynamic batch, save them, write meta.json."""
    model = (model or TinyGaussian()).eval()
    batch = Dim("batch")
    out.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, *SHAPE)
    torch.export.save(export(LogProb(model), (example,), dynamic_shapes=({0: batch},)), out / "log_prob.pt2")
    torch.export.save(export(Sample(model), (example,), dynamic_shapes=({0: batch},)), out / "sample.pt2")
    meta = {
        "format": "genloupe-export",
        "version": 1,
        "name": "tiny Gaussian",
        "family": "gaussian",
        "data_shape": [1, 8, 8],
        "levels": 17,
        "discrete": False,
        "likelihood": "exact",
        "estimator": "closed form",
        "transform": {"kind": "affine", "range": [-1, 1]},
        "sample_noise": [{"distribution": "normal", "shape": [1, 8, 8], "batch_dim": 0}],
        **meta_changes,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


# --- its checks ------------------------------------------------------------------------------


def trained_tiny_gaussian() -> TinyGaussian:
    """Moments of the digits in [-1, 1]: a model that fits, so its numbers mean something."""
    digits = open_data("digits").split("train")
    x = torch.as_tensor(digits.images, dtype=torch.float32)
    y = 2.0 * (x + 0.5) / digits.levels - 1.0
    model = TinyGaussian()
    with torch.no_grad():
        model.mean.copy_(y.mean(0))
        model.log_std.copy_(torch.log(y.std(0) + 0.05))
    return model


def test_readme_bundle_maps_the_models_space_onto_the_engines(tmp_path):
    model = trained_tiny_gaussian()
    bundle = open_model(write_readme_bundle(tmp_path / "tiny", model))
    assert bundle.info.extra["format"] == "torch.export bundle"
    y = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        # density on [0,1]^D = density on [-1,1]^D at 2y-1, times the Jacobian 2^D
        expected = model.log_prob(2 * y - 1) + 64 * math.log(2.0)
        assert torch.allclose(bundle.log_prob(y), expected, atol=1e-4)
        eps = torch.randn(7, *SHAPE, generator=torch.Generator().manual_seed(3))
        assert torch.allclose(bundle.sample(7, torch.Generator().manual_seed(3)), (model.sample_from(eps) + 1) / 2)


def test_readme_bundle_scores_digits_between_the_uniform_baseline_and_zero(tmp_path):
    bundle = open_model(write_readme_bundle(tmp_path / "tiny", trained_tiny_gaussian()))
    test = open_data("digits").split("test")
    result = evaluate_likelihood(bundle, test.images, test.levels, k_deq=2, device="cpu")
    assert 0.0 < result.mean_bpd < math.log2(17)  # beats the uniform model (4.087 bits/dim) on held-out digits
    samples = draw_samples(bundle, 100, seed=1, device="cpu")
    assert samples.shape == (100, 1, 8, 8) and samples.max() <= 16
    np.testing.assert_array_equal(samples, draw_samples(bundle, 100, seed=1, device="cpu", batch_size=64))


# --- other formats' tiny models, shared by the format and CLI tests ---------------------------


class ScriptedGaussian(nn.Module):
    """A TorchScript-able model in the legacy layout: sample(noise) and log_prob(x), both exported."""

    def __init__(self, shape: tuple[int, int, int] = SHAPE) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.full(shape, 0.4))
        self.log_std = nn.Parameter(torch.full(shape, -1.5))

    @torch.jit.export
    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        return self.mean + torch.exp(self.log_std) * eps

    @torch.jit.export
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z * z - self.log_std - 0.9189385332046727).flatten(1).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)


def scripted_meta(**changes) -> dict:
    return {"format": "genloupe-export", "version": 1, "name": "scripted Gaussian", "family": "gaussian",
            "data_shape": [1, 8, 8], "levels": 17, "discrete": False, "likelihood": "exact",
            "sample_noise": [{"distribution": "normal", "shape": [1, 8, 8], "batch_dim": 0}], **changes}


def write_torchscript(path: Path, module: nn.Module | None = None, meta: dict | None = None) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated: this is its legacy route
        scripted = torch.jit.script((module or ScriptedGaussian()).eval())
        extra = {} if meta is None else {"genloupe_meta.json": json.dumps(meta)}
        torch.jit.save(scripted, str(path), _extra_files=extra)
    return path


def write_onnx_generator(path: Path, *, uint8: bool = True, meta: dict | None = None,
                         noise_dim: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A linear ONNX generator: images = sigmoid(noise @ W + b) as (N, 1, 8, 8), times 255 as uint8 if asked.

    Returns (W, b), the reference to recompute its samples.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(noise_dim, 64)).astype(np.float32)
    bias = rng.normal(size=64).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["noise", "W"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["s"]),
        helper.make_node("Reshape", ["s", "shape"], ["images" if not uint8 else "unit"]),
    ]
    if uint8:
        nodes += [helper.make_node("Mul", ["unit", "scale"], ["scaled"]), helper.make_node("Round", ["scaled"], ["rounded"]),
                  helper.make_node("Cast", ["rounded"], ["images"], to=TensorProto.UINT8)]
    initializers = [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b"),
                    numpy_helper.from_array(np.array([-1, 1, 8, 8], dtype=np.int64), "shape"),
                    numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale")]
    graph = helper.make_graph(
        nodes, "generator", [helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["N", noise_dim])],
        [helper.make_tensor_value_info("images", TensorProto.UINT8 if uint8 else TensorProto.FLOAT, ["N", 1, 8, 8])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    if meta is not None:
        helper.set_model_props(model, {"genloupe_meta": json.dumps(meta)})
    onnx.save(model, str(path))
    return weight, bias

"""The other ways in: TorchScript (legacy), ONNX generators, sample bundles, trusted adapters, and the
pieces every loader relies on (transforms of a model's own space, content hashes, safety checks)."""

from __future__ import annotations

import json
import math
import sys
import zipfile

import numpy as np
import pytest
import torch
from torch import nn
from torch.export import Dim, export

from genloupe.engine.checkpoints import content_hash, export_bundle, format_of, load_raw, open_model
from genloupe.engine.checkpoints.pt2_check import check_expression, check_target
from genloupe.engine.checkpoints.safety import check_member_name
from genloupe.engine.errors import CheckpointError, ModelError, UnsafeFileError
from genloupe.engine.models.base import ModelInfo
from genloupe.engine.sampling import draw_samples
from tests.engine.test_checkpoints_support import (
    SHAPE,
    ScriptedGaussian,
    scripted_meta,
    write_onnx_generator,
    write_readme_bundle,
    write_torchscript,
)

D = 64


# --- TorchScript ------------------------------------------------------------------------------


def test_torchscript_archive_follows_its_methods(tmp_path):
    module = ScriptedGaussian()
    path = write_torchscript(tmp_path / "model.pt", module, scripted_meta())
    with pytest.raises(UnsafeFileError, match="--trust-code"):
        open_model(path)  # its compiled code could write files: only with the person's trust
    opened = open_model(path, trust_code=True)
    assert opened.info.extra["format"] == "TorchScript archive" and opened.info.extra["parameters"] == 2 * D
    y = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(opened.log_prob(y), module.log_prob(y))
        eps = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(1))
        assert torch.allclose(opened.sample(3, torch.Generator().manual_seed(1)), module.sample(eps))


# --- ONNX -------------------------------------------------------------------------------------------


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def test_onnx_uint8_generator_is_read_as_torch_fidelity_writes_them(tmp_path):
    weight, bias = write_onnx_generator(tmp_path / "g.onnx")
    opened = open_model(tmp_path / "g.onnx")
    assert opened.info.likelihood == "none" and opened.info.levels == 256 and opened.info.data_shape == SHAPE
    assert opened.info.extra["parameters"] is None  # onnxruntime does not say; GenLoupe does not guess
    samples = opened.sample(6, torch.Generator().manual_seed(2)).numpy()
    eps = torch.randn(6, 4, generator=torch.Generator().manual_seed(2)).numpy()
    expected = np.round(sigmoid(eps @ weight + bias) * 255) / 255
    np.testing.assert_allclose(samples.reshape(6, -1), expected, atol=1 / 255 + 1e-6)
    with pytest.raises(ModelError, match="no likelihood"):
        opened.log_prob(torch.zeros(1, *SHAPE))


def test_onnx_float_generator_declares_its_space(tmp_path):
    meta = scripted_meta(name="onnx", likelihood="none", levels=256,
                         sample_noise=[{"distribution": "uniform", "shape": [4], "batch_dim": 0}])
    weight, bias = write_onnx_generator(tmp_path / "f.onnx", uint8=False, meta=meta)
    opened = open_model(tmp_path / "f.onnx")
    samples = opened.sample(4, torch.Generator().manual_seed(5)).numpy().reshape(4, -1)
    u = torch.rand(4, 4, generator=torch.Generator().manual_seed(5)).numpy()
    np.testing.assert_allclose(samples, sigmoid(u @ weight + bias), atol=1e-5)
    assert draw_samples(opened, 10, seed=0, device="cpu").max() <= 255


def test_onnx_without_onnxruntime_names_the_extra(tmp_path, monkeypatch):
    write_onnx_generator(tmp_path / "g.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if it were not installed
    with pytest.raises(CheckpointError, match=r"pip install genloupe\[onnx\]"):
        open_model(tmp_path / "g.onnx")


# --- sample bundles ----------------------------------------------------------------------------------


def test_npz_sample_bundle_converts_bits_per_dim_and_draws_from_its_samples(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(10, 8, 8, 1), dtype=np.uint8)  # channels last
    bpd = rng.uniform(1.0, 3.0, size=10)
    np.savez(tmp_path / "s.npz", samples=images, levels=np.int64(17), labels=np.arange(10),
             log_prob=bpd, log_prob_convention=json.dumps({"unit": "bits/dim", "kind": "lower_bound", "k": 5000}))
    opened = open_model(tmp_path / "s.npz")
    stored = opened.stored
    assert opened.info.extra["stored_samples"] == 10 and opened.info.likelihood == "none"
    np.testing.assert_allclose(stored.log_px, -bpd * D * math.log(2))
    assert stored.convention["kind"] == "lower_bound" and stored.levels == 17
    np.testing.assert_array_equal(stored.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(opened.sample(3).numpy() * 16, stored.images[:3])  # no generator: in order
    drawn = (opened.sample(6, torch.Generator().manual_seed(4)).numpy() * 16).round().astype(np.uint8)
    rows = {row.tobytes(): i for i, row in enumerate(stored.images)}
    assert len({rows[row.tobytes()] for row in drawn}) == 6  # six distinct stored samples
    np.testing.assert_array_equal(drawn, (opened.sample(6, torch.Generator().manual_seed(4)).numpy() * 16).round())
    with pytest.raises(ModelError, match="holds 10 samples"):
        opened.sample(11, torch.Generator().manual_seed(0))
    with pytest.raises(ModelError, match="no likelihood"):
        opened.log_prob(torch.zeros(1, *SHAPE))


def test_image_folder_sample_bundle_reads_log_likelihoods_of_a_density_on_minus_one_one(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    names = [f"{i:03d}.png" for i in range(5)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, size=(8, 8), dtype=np.uint8)).save(tmp_path / name)
    values = rng.normal(-50.0, 5.0, size=5)
    (tmp_path / "log_prob.csv").write_text("file,log_prob\n" + "".join(f"{n},{float(v)!r}\n" for n, v in zip(names[::-1], values[::-1])))
    (tmp_path / "log_prob_convention.json").write_text(json.dumps({"unit": "nats", "space": "continuous", "range": [-1, 1]}))
    stored = open_model(tmp_path).stored
    # density of data in [-1, 1]: log p on [0,1]^D = log p' + D ln 2; log P(x) >= that - D ln 256
    np.testing.assert_allclose(stored.log_px, values + D * math.log(2) - D * math.log(256))
    assert stored.convention["kind"] == "lower_bound" and list(stored.ids) == names


# --- adapters ------------------------------------------------------------------------------------------


ADAPTER = '''
from genloupe.engine.models.zoo import build_model

def load(path):
    return build_model("gaussian", {"data_shape": [1, 8, 8], "levels": 17})
'''


def test_a_trusted_adapter_opens_and_exports_to_a_bundle_that_needs_no_trust(tmp_path):
    (tmp_path / "adapter.py").write_text(ADAPTER)
    assert format_of(tmp_path / "adapter.py") == "adapter"
    with pytest.raises(UnsafeFileError):
        open_model(tmp_path / "adapter.py")
    model = open_model(tmp_path / "adapter.py", trust_code=True)
    assert model.info.family == "gaussian"
    raw, _, _, _ = load_raw(tmp_path / "adapter.py", trust_code=True)
    bundle = open_model(export_bundle(raw, tmp_path / "bundle").path)
    y = torch.rand(4, *SHAPE, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(bundle.log_prob(y), model.log_prob(y), atol=1e-5)


# --- a model's own space ----------------------------------------------------------------------------


class LogisticInLogitSpace(nn.Module):
    """z ~ standard logistic per pixel: uniform once mapped back through the sigmoid."""

    def forward(self, z):
        return (-z - 2 * nn.functional.softplus(-z)).flatten(1).sum(1)


class LogitOfUniform(nn.Module):
    def forward(self, u):
        return torch.log(u) - torch.log1p(-u)


def test_logit_transform_adds_its_jacobian(tmp_path):
    alpha = 0.05
    batch = Dim("batch")
    folder = tmp_path / "logit"
    folder.mkdir()
    torch.export.save(export(LogisticInLogitSpace(), (torch.zeros(2, *SHAPE),), dynamic_shapes=({0: batch},)),
                      folder / "log_prob.pt2")
    torch.export.save(export(LogitOfUniform(), (torch.full((2, *SHAPE), 0.5),), dynamic_shapes=({0: batch},)),
                      folder / "sample.pt2")
    (folder / "meta.json").write_text(json.dumps(scripted_meta(
        transform={"kind": "logit", "alpha": alpha},
        sample_noise=[{"distribution": "uniform", "shape": list(SHAPE), "batch_dim": 0}])))
    opened = open_model(folder)
    # s = a + (1-2a) y is uniform on [a, 1-a] when the model's z = logit(s) is logistic: log p(y) = D ln(1-2a)
    y = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(opened.log_prob(y), torch.full((3,), D * math.log(1 - 2 * alpha)), atol=1e-3)
    u = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(opened.sample(2, torch.Generator().manual_seed(1)), (u - alpha) / (1 - 2 * alpha), atol=1e-5)


# --- hashes, heads and safety checks ------------------------------------------------------------------


def test_content_hash_follows_bytes_not_names(tmp_path):
    bundle = write_readme_bundle(tmp_path / "a")
    first = content_hash(bundle)
    (tmp_path / "a").rename(tmp_path / "b")
    assert content_hash(tmp_path / "b") == first
    meta = tmp_path / "b" / "meta.json"
    meta.write_text(meta.read_text().replace("tiny Gaussian", "tiny Gaussian!"))
    assert content_hash(tmp_path / "b") != first
    assert open_model(tmp_path / "b").info.extra["content_hash"] == content_hash(tmp_path / "b")


def test_a_bundle_has_no_heads(tmp_path):
    bundle = write_readme_bundle(tmp_path / "b")
    with pytest.raises(CheckpointError, match="no head 'vae'"):
        open_model(f"{bundle}#vae")


@pytest.mark.parametrize("expression", [
    "Symbol('s77', positive=True, integer=True)", "s0 + 1", "Max(2, s1)", "FloorDiv(s0, 2)*s1 - 3", "Eq(s0, 4)",
])
def test_plain_shape_expressions_pass(expression):
    check_expression(expression, "test")


@pytest.mark.parametrize("expression", [
    "__import__('os').system('true')", "Symbol('s0').__class__", "open('x')", "s0 ** 10 ** 10", "exec('1')",
    "Symbol('s0; import os')", "[c for c in ().__class__.__bases__]",
])
def test_shape_expressions_that_could_run_code_are_refused(expression):
    with pytest.raises(UnsafeFileError):
        check_expression(expression, "test")


@pytest.mark.parametrize("target,allowed", [
    ("torch.ops.aten.linear.default", True), ("_operator.getitem", True), ("math.sqrt", True),
    ("torch.ops.aten.from_file.default", False), ("torch.load", False), ("_operator.call", False),
    ("_operator.attrgetter", False), ("builtins.exec", False), ("torch.ops.higher_order.triton_kernel_wrapper_mutation", False),
])
def test_graph_targets_are_allowlisted(target, allowed):
    if allowed:
        check_target(target, "test")
    else:
        with pytest.raises(UnsafeFileError):
            check_target(target, "test")


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "C:\\x", "a\\..\\..\\x"])
def test_member_names_that_escape_are_refused(name):
    with pytest.raises(UnsafeFileError):
        check_member_name(name, "test")


def test_a_lone_exported_program_is_not_mistaken_for_a_bundle(tmp_path):
    bundle = write_readme_bundle(tmp_path / "b")
    with pytest.raises(CheckpointError, match="a single torch.export program"):
        open_model(bundle / "sample.pt2")
    with zipfile.ZipFile(tmp_path / "nested.zip", "w") as archive:
        for file in bundle.iterdir():
            archive.write(file, f"tiny/{file.name}")
    assert open_model(tmp_path / "nested.zip").info.name == "tiny Gaussian"  # a zipped bundle folder


class Categorical(nn.Module):
    """A sampler that draws with torch.multinomial, which an export cannot take as explicit noise."""

    info = ModelInfo(name="categorical", family="test", data_shape=SHAPE, levels=17, likelihood="exact", discrete=True)

    def sample(self, n, generator=None):
        level = torch.multinomial(torch.ones(n, 17), 1, generator=generator).float() / 16
        return level.view(n, 1, 1, 1).expand(n, *SHAPE)

    def log_prob(self, y, generator=None):
        return torch.full((len(y),), -D * math.log(17))


def test_export_refuses_a_sampler_whose_noise_is_not_torch_randn(tmp_path):
    with pytest.raises(CheckpointError, match="multinomial"):
        export_bundle(Categorical(), tmp_path / "c")

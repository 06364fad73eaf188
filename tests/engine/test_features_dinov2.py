"""`dinov2` against facebookresearch/dinov2's layout and, where the reference code is on disk, its hub model
with dgm-eval's preprocessing.

No real weights are needed. test_features_dinov2_layout.json lists the key -> shape of the hub's
``dinov2_vitl14(pretrained=False)`` state dict (facebookresearch/dinov2 at b8931f7). Fast tests use a
2-block ViT of width 128 in the same layout; the equivalence test builds the full ViT-L/14 from the
reference code and needs it on disk (never committed here):

    GENLOUPE_DINOV2_REPO=/path/to/facebookresearch/dinov2      (a checkout with hubconf.py)
    GENLOUPE_DGM_EVAL_REPO=/path/to/layer6ai-labs/dgm-eval     (a checkout with dgm_eval/)

plus torchvision (torch==2.14.1 torchvision==0.29.1 in a side venv; see shared notes, environment.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genloupe.engine.data import Dataset
from genloupe.engine.errors import CheckpointError, DataError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.features import extract_features, get_extractor
from genloupe.engine.features.dinov2 import DINOv2, WEIGHTS_FILE
from genloupe.engine.features.pil_resize import resize_bicubic_uint8
from genloupe.engine.models.gaussian import DiagonalGaussian

LAYOUT = Path(__file__).with_name("test_features_dinov2_layout.json")


def random_weights(module: torch.nn.Module, path: Path, seed: int = 0) -> None:
    """Random weights of a module's layout with ViT-like scales; LayerNorm and LayerScale away from 1 and 0."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in module.state_dict().items():
        noise = torch.randn(value.shape, generator=generator)
        if key.endswith((".gamma", "norm1.weight", "norm2.weight", "norm.weight")):
            state[key] = 1 + 0.2 * noise if not key.endswith(".gamma") else 0.5 + 0.2 * noise
        elif key.endswith(("bias", "cls_token", "pos_embed", "mask_token")):
            state[key] = 0.05 * noise
        else:
            state[key] = noise * (1.0 / np.prod(value.shape[1:])) ** 0.5
    torch.save(state, path)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dinov2") / "tiny_dinov2.pth"
    random_weights(DINOv2(dim=128, depth=2, hidden=512), path)
    return path


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 32)[None, None, :, None]
    return np.clip(ramp + rng.normal(0, 40, size=(3, 3, 32, 32)), 0, 255).astype(np.uint8)


def test_state_dict_matches_the_hub_layout():
    with torch.device("meta"):  # 304 M parameters: shapes only
        ours = {key: list(value.shape) for key, value in DINOv2().state_dict().items()}
    assert ours == json.loads(LAYOUT.read_text())
    assert sum(np.prod(shape) for shape in ours.values()) == 304_368_640


@pytest.mark.parametrize("height, width", [(8, 8), (28, 28), (32, 32), (48, 64), (5, 3), (224, 224), (300, 300), (513, 513)])
def test_resize_equals_pillow_bicubic(height, width):
    """Upsampling (every GenLoupe shape) and square downsampling: the same bytes as Pillow."""
    rgb = np.random.default_rng(height * width).integers(0, 256, size=(3, height, width), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb.transpose(1, 2, 0), "RGB").resize((224, 224), Image.BICUBIC))
    ours = resize_bicubic_uint8(torch.from_numpy(rgb)[None], (224, 224))[0].numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(ours, pillow)


def test_features_of_a_weights_file_found_in_torch_hub_cache(tiny_weights, images, monkeypatch, tmp_path):
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    os.symlink(tiny_weights, checkpoints / WEIGHTS_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # where torch.hub.load caches it
    extractor = get_extractor("dinov2")
    both = extract_features(extractor, images, 256, use_cache=False)
    assert both.features.shape == (3, 128) and both.logits is None
    assert not np.allclose(both.features[0], both.features[1])
    one_by_one = extract_features(extractor, images, 256, use_cache=False, batch_size=1)
    np.testing.assert_allclose(one_by_one.features, both.features, rtol=0, atol=1e-5)
    grey = extract_features(extractor, images[:, :1], 256, use_cache=False).features
    rgb = extract_features(extractor, np.repeat(images[:, :1], 3, axis=1), 256, use_cache=False).features
    np.testing.assert_array_equal(grey, rgb)  # dgm-eval reads grey images as RGB
    assert "dgm-eval" in extractor.preprocessing and "width 128" in extractor.preprocessing


def test_missing_or_foreign_weights_are_one_line_errors(tiny_weights, tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="pass --dinov2-weights PATH, set GENLOUPE_DINOV2_WEIGHTS=PATH, or put it in ") as error:
        get_extractor("dinov2")
    assert "\n" not in str(error.value)
    monkeypatch.setenv("GENLOUPE_DINOV2_WEIGHTS", str(tmp_path / "nowhere.pth"))
    with pytest.raises(CheckpointError, match="nowhere.pth: DINOv2 weights file not found"):
        get_extractor("dinov2")
    state = torch.load(tiny_weights, weights_only=True)
    torch.save({**state, "register_tokens": torch.zeros(1, 4, 128)}, tmp_path / "registers.pth")
    with pytest.raises(CheckpointError, match="registers"):
        get_extractor("dinov2", weights=tmp_path / "registers.pth")
    torch.save({k: v for k, v in state.items() if k != "norm.weight"}, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="partial.pth: not DINOv2 ViT weights .*norm.weight"):
        get_extractor("dinov2", weights=tmp_path / "partial.pth")
    torch.save({"cls_token": DINOv2}, tmp_path / "code.pth")  # a pickled class: weights_only refuses it
    with pytest.raises(CheckpointError, match="code.pth: not a loadable weights file"):
        get_extractor("dinov2", weights=tmp_path / "code.pth")


def test_every_metric_but_the_inception_score_works_on_it(tiny_weights, monkeypatch):
    monkeypatch.setenv("GENLOUPE_DINOV2_WEIGHTS", str(tiny_weights))
    rng = np.random.default_rng(0)
    reference = Dataset(name="noise", images=rng.integers(0, 256, (40, 3, 16, 16), dtype=np.uint8), levels=256)
    result = evaluate(DiagonalGaussian([3, 16, 16], 256), reference,
                      EvaluationSettings(n_samples=40, features="dinov2", device="cpu"))
    assert {"fid", "kid", "precision", "recall", "density", "coverage"} <= set(result.metrics)
    assert "is" not in result.metrics and result.metrics["fid"]["convention"] == "dinov2 features (d=128)"


def test_rejects_images_that_are_neither_grey_nor_rgb(tiny_weights):
    with pytest.raises(DataError, match="1 or 3 channels"):
        extract_features(get_extractor("dinov2", weights=tiny_weights), np.zeros((1, 2, 8, 8), np.uint8), 256,
                         use_cache=False)


def _reference_repos() -> tuple[Path, Path] | str:
    """The dinov2 and dgm-eval checkouts, or why the equivalence test cannot run."""
    if importlib.util.find_spec("torchvision") is None:
        return "torchvision not installed (torch==2.14.1 torchvision==0.29.1 in a side venv)"
    repos = []
    for variable, marker in (("GENLOUPE_DINOV2_REPO", "hubconf.py"), ("GENLOUPE_DGM_EVAL_REPO", "dgm_eval/models/dinov2.py")):
        path = Path(os.environ.get(variable, ""))
        if not os.environ.get(variable) or not (path / marker).is_file():
            return f"{variable} does not name a checkout with {marker} (the reference code is not part of GenLoupe)"
        repos.append(path)
    return repos[0], repos[1]


REFERENCE = _reference_repos()


def _dgm_eval_encoder(dinov2_repo: Path, dgm_eval_repo: Path, weights: Path, monkeypatch):
    """dgm-eval's DINOv2Encoder, its torch.hub.load answered by the local dinov2 checkout with our weights.

    dgm_eval/models/__init__.py imports every encoder (open_clip, timm, transformers): the package is
    stood up empty, so only the modules DINOv2Encoder needs are imported.
    """
    for name, folder in (("dgm_eval", dgm_eval_repo / "dgm_eval"), ("dgm_eval.models", dgm_eval_repo / "dgm_eval" / "models")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        monkeypatch.setitem(sys.modules, name, package)
    dgm_dinov2 = importlib.import_module("dgm_eval.models.dinov2")
    hub_load = torch.hub.load

    def local_hub(repo, model, *args, **kwargs):
        assert (repo, model) == ("facebookresearch/dinov2", "dinov2_vitl14")
        network = hub_load(str(dinov2_repo), model, source="local", pretrained=False)
        network.load_state_dict(torch.load(weights, weights_only=True), strict=True)
        return network

    monkeypatch.setattr(torch.hub, "load", local_hub)
    return dgm_dinov2.DINOv2Encoder(arch="vitl14").eval()


@pytest.mark.skipif(isinstance(REFERENCE, str), reason=str(REFERENCE))
def test_matches_dgm_eval_and_the_hub_model_on_the_same_weights(tmp_path, monkeypatch):
    dinov2_repo, dgm_eval_repo = REFERENCE
    monkeypatch.setenv("XFORMERS_DISABLED", "1")
    weights = tmp_path / WEIGHTS_FILE
    with torch.device("meta"):
        layout = DINOv2()
    random_weights(layout.to_empty(device="cpu"), weights)
    del layout
    encoder = _dgm_eval_encoder(dinov2_repo, dgm_eval_repo, weights, monkeypatch)
    ours = get_extractor("dinov2", weights=weights)

    rng = np.random.default_rng(1)
    sets = {
        "RGB 32x32": rng.integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8),
        "grey 28x28": rng.integers(0, 256, size=(2, 1, 28, 28), dtype=np.uint8),
        "RGB 256x256 (downsampled)": rng.integers(0, 256, size=(1, 3, 256, 256), dtype=np.uint8),
    }
    for what, batch in sets.items():
        pil = [Image.fromarray(image.transpose(1, 2, 0).squeeze(-1) if image.shape[0] == 1 else image.transpose(1, 2, 0))
               .convert("RGB") for image in batch]  # dgm-eval's ImagePathDataset: Image.open(path).convert('RGB')
        with torch.no_grad():
            reference = encoder(torch.stack([encoder.transform(image) for image in pil])).numpy()
        result = extract_features(ours, batch, 256, use_cache=False).features
        print(f"dinov2 vs dgm-eval + hub ViT-L/14, {what}: max abs diff {np.abs(result - reference).max():.3g}, "
              f"feature scale {np.abs(reference).max():.3g}")
        np.testing.assert_allclose(result, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_resize_is_bit_exact_and_features_match_cpu(tiny_weights, images):
    rgb = torch.from_numpy(images)
    np.testing.assert_array_equal(resize_bicubic_uint8(rgb.cuda(), (224, 224)).cpu().numpy(),
                                  resize_bicubic_uint8(rgb, (224, 224)).numpy())
    extractor = get_extractor("dinov2", weights=tiny_weights)
    cpu = extract_features(extractor, images, 256, device="cpu", use_cache=False).features
    gpu = extract_features(extractor, images, 256, device="cuda", use_cache=False).features  # TF32 off
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-4)

"""`inception-fid` against pytorch-fid's layout and (where torchvision imports) its module.

No real weights are needed: a random state dict in the reference key layout stands in for
pt_inception-2015-12-05-6726825d.pth. test_features_inception_layout.json lists the key -> shape
of pytorch-fid's fid_inception_v3() state dict, generated once from pytorch-fid 0.3.0.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genloupe.engine.errors import CheckpointError, DataError
from genloupe.engine.features import extract_features, get_extractor
from genloupe.engine.features.inception import FIDInceptionV3

LAYOUT = Path(__file__).with_name("test_features_inception_layout.json")


def random_reference_weights(path: Path, seed: int = 0) -> None:
    """Random weights with sane scales (He-normal convs, batch norms near identity)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in json.loads(LAYOUT.read_text()).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("conv.weight"):
            fan_in = int(np.prod(shape[1:]))
            state[key] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
        elif key.endswith("bn.weight"):
            state[key] = 0.8 + 0.4 * torch.rand(shape, generator=generator)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=generator)
        elif key == "fc.weight":
            state[key] = torch.randn(shape, generator=generator) / shape[1] ** 0.5
        else:  # bn.bias, bn.running_mean, fc.bias
            state[key] = 0.1 * torch.randn(shape, generator=generator)
    torch.save(state, path)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    random_reference_weights(path)
    return path


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Two RGB 8-bit images of 32x32 with structure (a gradient plus noise)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 32)[None, None, None, :]
    return np.clip(ramp + rng.normal(0, 40, size=(2, 3, 32, 32)), 0, 255).astype(np.uint8)


def test_state_dict_matches_the_reference_layout():
    reference = json.loads(LAYOUT.read_text())
    ours = {key: list(value.shape) for key, value in FIDInceptionV3().state_dict().items()}
    assert ours == reference
    assert sum(np.prod(shape) for key, shape in ours.items() if "num_batches" not in key) == 23_885_392


def test_runs_on_a_weights_file_and_is_batch_invariant(weights, images, monkeypatch):
    monkeypatch.setenv("GENLOUPE_INCEPTION_WEIGHTS", str(weights))  # the env var alone is enough
    extractor = get_extractor("inception-fid")
    both = extract_features(extractor, images, 256, use_cache=False)
    assert both.features.shape == (2, 2048) and both.logits.shape == (2, 1008)
    assert np.isfinite(both.features).all() and both.features.std() > 0.1
    assert not np.allclose(both.features[0], both.features[1])
    one_by_one = extract_features(extractor, images, 256, use_cache=False, batch_size=1)
    np.testing.assert_array_equal(one_by_one.features, both.features)
    np.testing.assert_array_equal(one_by_one.logits, both.logits)
    assert extractor.preprocessing.startswith("pytorch-fid") and len(extractor.weights_hash) == 64


def test_missing_or_wrong_weights_say_where_to_put_the_file(tmp_path, monkeypatch, weights):
    monkeypatch.delenv("GENLOUPE_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(CheckpointError, match="pass --inception-weights PATH, set GENLOUPE_INCEPTION_WEIGHTS=PATH, or put it in ") as error:
        get_extractor("inception-fid")
    assert "\n" not in str(error.value)
    with pytest.raises(CheckpointError, match="nowhere.pth: FID Inception weights file not found"):
        get_extractor("inception-fid", weights=tmp_path / "nowhere.pth")

    partial = torch.load(weights, weights_only=True)
    del partial["fc.weight"]
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match=r"1 missing keys \(e.g. \['fc.weight'\]\)"):
        get_extractor("inception-fid", weights=tmp_path / "partial.pth")

    code = tmp_path / "code.pth"
    torch.save({"fc.weight": FIDInceptionV3}, code)  # a pickled class: weights_only refuses it
    with pytest.raises(CheckpointError, match="code.pth: not a loadable weights file"):
        get_extractor("inception-fid", weights=code)


def test_rejects_images_that_are_neither_grey_nor_rgb(weights):
    extractor = get_extractor("inception-fid", weights=weights)
    with pytest.raises(DataError, match="1 or 3 channels"):
        extract_features(extractor, np.zeros((1, 2, 8, 8), dtype=np.uint8), 256, use_cache=False)


REFERENCE_MISSING = next(
    (name for name in ("torchvision", "pytorch_fid") if importlib.util.find_spec(name) is None), None
)


@pytest.mark.skipif(
    REFERENCE_MISSING is not None,
    reason=f"{REFERENCE_MISSING} not installed: the pytorch-fid comparison needs pytorch-fid and torchvision "
    "(torch==2.14.1 torchvision==0.29.1 pytorch-fid in a side venv; PyPI torchvision breaks beside torch 2.13 CPU)",
)
def test_matches_pytorch_fid_on_the_same_weights(weights, images, monkeypatch):
    from pytorch_fid import inception as reference_module

    state = torch.load(weights, weights_only=True)
    monkeypatch.setattr(reference_module, "load_state_dict_from_url", lambda *args, **kwargs: state)
    reference = reference_module.InceptionV3([3]).eval()
    reference_fc = reference_module.fid_inception_v3().fc  # the 1008-way classifier torch-fidelity uses for IS
    ours = get_extractor("inception-fid", weights=weights)

    grey = images[:, :1]
    for batch, levels in ((images, 256), (grey, 256)):
        x = torch.from_numpy(batch.astype(np.float32)) / (levels - 1)
        with torch.inference_mode():
            pool = reference(x.expand(-1, 3, -1, -1))[0].flatten(1)
            logits = pool.double() @ reference_fc.weight.double().T
        result = extract_features(ours, batch, levels, use_cache=False)
        print(f"inception-fid vs pytorch-fid, {batch.shape[1]} channels: max abs diff features "
              f"{np.abs(result.features - pool.numpy()).max():.3g}, logits {np.abs(result.logits - logits.numpy()).max():.3g}")
        np.testing.assert_allclose(result.features, pool.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(result.logits, logits.numpy(), rtol=1e-4, atol=1e-4)


def _torch_fidelity_missing() -> str | None:
    try:
        import torch_fidelity  # noqa: F401  (imports torchvision)
    except ImportError as error:
        return f"torch-fidelity does not import here ({error}): run it in the side venv (torchvision, tqdm)"
    return None


@pytest.mark.skipif(_torch_fidelity_missing() is not None, reason=str(_torch_fidelity_missing()))
def test_torch_fidelitys_weights_file_is_found_in_torch_hub_cache_and_loads(weights, monkeypatch, tmp_path):
    """torch-fidelity caches weights-inception-2015-12-05-6726825d.pth: a plain state dict of its own
    FeatureExtractorInceptionV3, whose keys are pytorch-fid's. Its module loads our layout strictly, and
    the state dict it holds, saved under torch-fidelity's file name in the hub cache, is found and loaded."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(theirs.state_dict(), checkpoints / "weights-inception-2015-12-05-6726825d.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GENLOUPE_INCEPTION_WEIGHTS", raising=False)
    ours = get_extractor("inception-fid")
    for key, value in ours.module.state_dict().items():
        torch.testing.assert_close(value, theirs.state_dict()[key], rtol=0, atol=0)

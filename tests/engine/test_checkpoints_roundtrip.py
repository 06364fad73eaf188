"""Round trips: every zoo family (and both hybrid heads) through every format it can be written in
gives the same per-sample log-likelihood (within 1e-4 nats) and the same samples for the same seed,
measured by the engine's own likelihood and sampling tasks on real digits.

Formats: GenLoupe checkpoints (.pt, .safetensors) and export bundles (folder, .zip). Models are
tiny and the digits are taken at every other pixel (4x4): torch.export unrolls the autoregressive
sampler one pass per pixel, and export time grows with it.
"""

from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from genloupe.engine.checkpoints import export_bundle, open_model
from genloupe.engine.checkpoints.zoo import save_checkpoint
from genloupe.engine.data import Dataset, open_data
from genloupe.engine.errors import ModelError
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.models.zoo import FAMILIES as REGISTERED
from genloupe.engine.models.zoo import build_model, family_names
from genloupe.engine.sampling import draw_samples

FAMILIES = {
    "gaussian": {},
    "mixture": {"components": 3},
    "flow": {"couplings": 2, "hidden": 16},
    "autoregressive": {"hidden": [32]},
    "vaegan": {"hidden": 32, "latent": 4},
}
# (family, head): the hybrid's heads are models of their own; '' is a family's only model
MODELS = [(family, "") for family in FAMILIES if family != "vaegan"] + [("vaegan", "vae"), ("vaegan", "gan")]
FORMATS = ["pt", "safetensors", "bundle", "bundle.zip"]


def tiny_model(family: str) -> torch.nn.Module:
    """A family's default config for 1x4x4 digits, shrunk by :data:`FAMILIES`' options."""
    family_names()  # registers the families
    config = {**REGISTERED[family].default_config((1, 4, 4), 17), **FAMILIES[family]}
    return build_model(family, config).eval()


def small_digits() -> tuple[Dataset, Dataset]:
    """Digits at every other pixel (1x4x4, still 17 levels): train and test splits."""
    full = open_data("digits")
    images = np.ascontiguousarray(full.images[:, :, ::2, ::2])
    small = Dataset(name="digits-4x4", images=images, levels=full.levels, labels=full.labels)
    return small.split("train"), small.split("test")


@pytest.fixture(scope="module")
def data() -> tuple[Dataset, Dataset]:
    return small_digits()


@pytest.fixture(scope="module")
def zoo(data) -> dict[str, torch.nn.Module]:
    """One model per family, started from the training data where the family can be."""
    train, _ = data
    models = {}
    for family in FAMILIES:
        model = tiny_model(family)
        if hasattr(model, "init_from_data"):
            model.init_from_data(torch.as_tensor(train.images[:256]), torch.Generator().manual_seed(0))
        models[family] = model
    return models


@pytest.fixture(scope="module")
def written(zoo, tmp_path_factory) -> dict[tuple[str, str, str], str]:
    """Every (family, head, format) as the path open_model takes."""
    root = tmp_path_factory.mktemp("roundtrip")
    paths = {}
    for family, model in zoo.items():
        for suffix in ("pt", "safetensors"):
            save_checkpoint(model, root / f"{family}.{suffix}")
    for family, head in MODELS:
        model = zoo[family].head(head) if head else zoo[family]
        folder = export_bundle(model, root / f"{family}-{head}-bundle").path
        with zipfile.ZipFile(root / f"{family}-{head}.zip", "w") as archive:
            for file in folder.iterdir():
                archive.write(file, file.name)
        for fmt in FORMATS:
            where = {"pt": f"{family}.pt", "safetensors": f"{family}.safetensors", "bundle": folder.name,
                     "bundle.zip": f"{family}-{head}.zip"}[fmt]
            paths[family, head, fmt] = str(root / where) + (f"#{head}" if head and fmt in ("pt", "safetensors") else "")
    return paths


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("family,head", MODELS)
def test_round_trip_keeps_likelihoods_and_samples(zoo, data, written, family, head, fmt):
    original = zoo[family].head(head) if head else zoo[family]
    opened = open_model(written[family, head, fmt])
    assert opened.info.name == original.info.name and opened.info.likelihood == original.info.likelihood
    np.testing.assert_array_equal(draw_samples(original, 100, seed=3, device="cpu"),
                                  draw_samples(opened, 100, seed=3, device="cpu"))
    if original.info.likelihood == "none":
        with pytest.raises(ModelError):
            opened.log_prob(torch.zeros(1, 1, 4, 4))
        return
    _, test = data
    ours = evaluate_likelihood(opened, test.images, test.levels, k_deq=2, seed=1, device="cpu")
    theirs = evaluate_likelihood(original, test.images, test.levels, k_deq=2, seed=1, device="cpu")
    assert np.abs(ours.log_px - theirs.log_px).max() <= 1e-4
    assert ours.convention == theirs.convention


def test_bundles_beat_the_uniform_baseline_after_a_fit(zoo, data, written):
    """The numbers carried through are meaningful ones: fitted families beat 4.087 bits/dim on held-out data."""
    _, test = data
    result = evaluate_likelihood(open_model(written["gaussian", "", "bundle.zip"]), test.images, test.levels,
                                 k_deq=2, device="cpu")
    assert result.mean_bpd < np.log2(17)


def test_a_bundle_refuses_another_k_than_it_was_exported_with(written):
    vae = open_model(written["vaegan", "vae", "bundle"])
    y = torch.zeros(3, 1, 4, 4)
    assert vae.log_prob(y, torch.Generator().manual_seed(0), k=vae.info.bound_k).shape == (3,)
    with pytest.raises(ModelError, match="export it again"):
        vae.log_prob(y, torch.Generator().manual_seed(0), k=vae.info.bound_k * 2)


def test_export_with_another_k_changes_the_bound_it_carries(zoo, tmp_path):
    bundle = open_model(export_bundle(zoo["vaegan"].head("vae"), tmp_path / "k8.zip", k=8).path)
    assert bundle.info.bound_k == 8
    assert "IWAE" in bundle.info.estimator


def test_a_renamed_file_opens_by_its_content(written, tmp_path):
    for fmt, name in (("pt", "model.bin"), ("bundle.zip", "model.dat")):
        source = Path(written["flow", "", fmt])
        shutil.copy(source, tmp_path / name)
        assert open_model(tmp_path / name).info.family == "flow"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bundles_run_on_cuda_with_the_same_numbers(zoo, data, written):
    """Moved to the GPU (programs and their device constants), a bundle still matches its model there."""
    _, test = data
    for family, head in MODELS:
        original = copy.deepcopy(zoo[family].head(head) if head else zoo[family])
        opened = open_model(written[family, head, "bundle.zip"])
        np.testing.assert_array_equal(draw_samples(original, 64, seed=2, device="cuda"),
                                      draw_samples(opened, 64, seed=2, device="cuda"))
        if opened.info.likelihood != "none":
            ours = evaluate_likelihood(opened, test.images, test.levels, k_deq=2, device="cuda").log_px
            theirs = evaluate_likelihood(original, test.images, test.levels, k_deq=2, device="cuda").log_px
            assert np.abs(ours - theirs).max() <= 1e-4

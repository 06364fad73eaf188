"""Two outside-style models (a karpathy-style MADE, pytorch/examples' VAE; assets/examples) brought in by
every route the README gives — adapter with trust, `genloupe export` bundle, ONNX generator, .npz sample
bundle — with GenLoupe's numbers compared against the models' own computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genloupe.engine.blocks import BLOCK, BOUND, block_generator
from genloupe.engine.checkpoints import export_bundle, load_raw, open_model
from genloupe.engine.data import open_data, read_split
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.likelihood import evaluate_likelihood

from .byo_examples import module, trained

LEVELS, D = 17, 64


@pytest.fixture(scope="module")
def folder():
    return trained()


@pytest.fixture(scope="module")
def heldout(folder):
    """The researcher's own held-out digits: every image their train_indices.json leaves out."""
    data = open_data("digits")
    return data.split("test", declared=read_split(folder / "train_indices.json", data).indices)


def made_of(folder):
    return load_raw(folder / "made_adapter.py", trust_code=True)[0].user.made


def vae_of(folder):
    return load_raw(folder / "vae_adapter.py", trust_code=True)[0].user.vae


def own_made_log_px(made, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return made.log_prob_levels(torch.from_numpy(images.reshape(len(images), D).astype(np.int64))).sum(1).double().numpy()


def own_vae_iwae(vae, images: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """The VAE's own IWAE-k, drawn block by block from the generators GenLoupe seeds (same draws, same numbers)."""
    x = torch.from_numpy(images.reshape(len(images), D).astype(np.int64))
    parts = []
    with torch.no_grad():
        for block, start in enumerate(range(0, len(x), BLOCK)):
            part = x[start : start + BLOCK]
            generator = block_generator(seed, block, torch.device("cpu"), BOUND)
            parts.append(vae.iwae(part, k, torch.randn(k, len(part), vae.latent, generator=generator)))
    return torch.cat(parts).double().numpy()


def test_adapters_score_as_the_models_own_code(folder, heldout):
    made = open_model(folder / "made_adapter.py", trust_code=True)
    result = evaluate_likelihood(made, heldout.images, LEVELS, device="cpu", per_dim=True)
    own = own_made_log_px(made_of(folder), heldout.images)
    np.testing.assert_allclose(result.log_px, own, atol=1e-4)
    np.testing.assert_allclose(result.per_dim_bits.reshape(len(own), -1).sum(1) * -math.log(2), own, atol=1e-3)
    assert result.mean_bpd < math.log2(LEVELS) - 1  # it learnt something

    vae = open_model(folder / "vae_adapter.py", trust_code=True)
    bound = evaluate_likelihood(vae, heldout.images, LEVELS, k_bound=32, device="cpu")
    np.testing.assert_allclose(bound.log_px, own_vae_iwae(vae_of(folder), heldout.images, 32), atol=1e-3)
    assert bound.convention.kind == "lower_bound" and bound.convention.k_bound == 32


def test_export_bundles_carry_the_models_numbers_and_samples(folder, heldout, tmp_path):
    images = heldout.images[:BLOCK]
    bundles = {}
    for name, own in (("made", lambda x: own_made_log_px(made_of(folder), x)),
                      ("vae", lambda x: own_vae_iwae(vae_of(folder), x, 64))):
        raw = load_raw(folder / f"{name}_adapter.py", trust_code=True)[0]
        bundles[name] = open_model(export_bundle(raw, tmp_path / f"{name}.zip").path)  # opens without trust
        assert bundles[name].info.extra["format_id"] == "export-bundle"
        result = evaluate_likelihood(bundles[name], images, LEVELS, device="cpu")
        np.testing.assert_allclose(result.log_px, own(images), atol=1e-3)
    with torch.no_grad():
        expected = made_of(folder).sample(torch.rand(6, D, generator=torch.Generator().manual_seed(3)))
        drawn = bundles["made"].sample(6, torch.Generator().manual_seed(3))
        np.testing.assert_array_equal(torch.round(drawn * 16).long().reshape(6, D).numpy(), expected.numpy())
        vae = vae_of(folder)
        generator = torch.Generator().manual_seed(4)
        z, u = torch.randn(5, vae.latent, generator=generator), torch.rand(5, D, generator=generator)
        drawn = bundles["vae"].sample(5, torch.Generator().manual_seed(4))
        np.testing.assert_array_equal(torch.round(drawn * 16).long().reshape(5, D).numpy(), vae.sample(z, u).numpy())


def test_onnx_twins_sample_what_the_models_sample(folder):
    pytest.importorskip("onnxruntime")
    made_path, vae_path = module("export_onnx").export_both(folder)
    made, vae = made_of(folder), vae_of(folder)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(5)
        expected = made.sample(torch.rand(70, D, generator=generator))  # 70: the fixed batch of 64 is padded
        drawn = open_model(made_path).sample(70, torch.Generator().manual_seed(5))
        np.testing.assert_array_equal(torch.round(drawn * 16).long().reshape(70, D).numpy(), expected.numpy())
        generator = torch.Generator().manual_seed(6)
        z, u = torch.randn(9, vae.latent, generator=generator), torch.rand(9, D, generator=generator)
        drawn = open_model(vae_path).sample(9, torch.Generator().manual_seed(6))
        np.testing.assert_array_equal(torch.round(drawn * 16).long().reshape(9, D).numpy(), vae.sample(z, u).numpy())


def test_sample_bundles_keep_the_models_own_log_likelihoods(folder, heldout):
    made_npz, vae_npz = module("write_samples").write(folder, n=100)
    made_bundle = open_model(made_npz)
    own = own_made_log_px(made_of(folder), made_bundle.stored.images)
    np.testing.assert_allclose(made_bundle.stored.log_px, own, atol=1e-4)
    settings = EvaluationSettings(n_samples=100, metrics=("ll",), device="cpu")
    stored = evaluate(made_bundle, heldout, settings)
    assert stored.likelihood["sample"].mean_bpd == pytest.approx(-own.mean() / (D * math.log(2)), abs=1e-9)
    rescored = evaluate(made_bundle, heldout, settings, scoring_model=open_model(folder / "made_adapter.py", trust_code=True))
    np.testing.assert_allclose(rescored.likelihood["sample"].log_px, own, atol=1e-4)  # two routes, one number

    vae_bundle = open_model(vae_npz)
    stored_bpd = np.load(vae_npz)["log_prob"]
    np.testing.assert_allclose(vae_bundle.stored.log_px, -stored_bpd * D * math.log(2))
    assert vae_bundle.stored.convention["kind"] == "lower_bound"
    assert json.loads(str(np.load(vae_npz)["log_prob_convention"]))["k"] == 256
    assert evaluate(vae_bundle, heldout, settings).likelihood["sample"].mean_bpd == pytest.approx(stored_bpd.mean())

"""Each silent failure of bringing an outside model (issue 11), now caught on open with its one-line message;
the adapter contract's rough edges (k, errors inside user code, what its hash covers); levels everywhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.errors import CheckpointError, DataError, ModelError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.models.noise_mixture import NoiseMixture

from .byo_examples import EXAMPLES, trained, write

DIGITS_TEST = open_data("digits").split("test")


@pytest.fixture(scope="module")
def folder():
    return trained()


def refused(path, error=ModelError) -> str:
    with pytest.raises(error) as caught:
        open_model(path, trust_code=True)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def made_variant(folder, name, body):
    return write(folder, name, f"from made_adapter import MadeModel, load as load_made\n\n{body}")


# --- the silent wrong numbers of the issue -----------------------------------------------------------


def test_samples_returned_as_levels_are_refused_not_clamped(folder):
    path = made_variant(folder, "levels_adapter.py", '''
class Levels(MadeModel):
    def sample(self, n, generator=None):
        return super().sample(n, generator) * 16  # levels 0..16, not values in [0, 1]

def load(path):
    return Levels(load_made(path).made)
''')
    assert "outside [0, 1] (they look like levels 0..16: divide by L - 1 = 16)" in refused(path)


def test_a_log_prob_that_truncates_levels_is_refused(folder):
    path = made_variant(folder, "truncating_adapter.py", '''
class Truncating(MadeModel):
    def levels(self, y):
        return (y * 16).long().reshape(len(y), 64)  # truncates: a round trip that lands below a level moves it

def load(path):
    return Truncating(load_made(path).made)
''')
    assert "it truncates levels (y.long(), int(), floor); round them" in refused(path)
    path = made_variant(folder, "long_adapter.py", '''
class Long(MadeModel):
    def levels(self, y):
        return y.long().reshape(len(y), 64)  # every level below L-1 becomes 0

def load(path):
    return Long(load_made(path).made)
''')
    assert "did not change when one pixel moved one level" in refused(path)


def test_a_made_sampled_in_the_wrong_order_is_refused(folder):
    path = made_variant(folder, "raster_adapter.py", '''
def load(path):
    model = load_made(path)
    model.made.sample = model.made.sample_raster  # raster order; the masks follow a permutation
    return model
''')
    assert "its own samples are not draws from what log_prob scores" in refused(path)
    assert open_model(folder / "made_adapter.py", trust_code=True).info.extra["warnings"] == []  # the right order passes


def test_a_stored_positive_log_probability_of_a_discrete_image_is_refused(tmp_path):
    images = np.random.default_rng(0).integers(0, 17, size=(20, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", samples=images, levels=np.int64(17), log_prob=np.full(20, 85.7),
             log_prob_convention=json.dumps({"unit": "nats", "space": "discrete"}))
    assert "give log P(x) = 85.7 > 0 nats, impossible for a discrete image" in refused(tmp_path / "s.npz", CheckpointError)


def test_samples_far_worse_than_held_out_data_are_said(tmp_path):
    noisy = NoiseMixture(open_model(EXAMPLES.parent / "demo" / "autoregressive.pt"), 0.9)
    result = evaluate(noisy, DIGITS_TEST, EvaluationSettings(n_samples=64, metrics=("ll",), device="cpu"))
    assert any("does sample() draw in the order log_prob scores?" in text for text in result.warnings)


# --- levels --------------------------------------------------------------------------------------------


def save_pngs(folder, images, scale):
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(np.round(image * scale).astype(np.uint8)).save(folder / f"{i:03d}.png")


def test_image_folders_declare_their_levels(tmp_path):
    digits = DIGITS_TEST.images[:40, 0]
    save_pngs(tmp_path / "scaled", digits, 255 / 16)  # what saving a display image writes
    assert "use only the values of a 17-level grid scaled to 0..255; say their levels in levels.json" in refused(
        tmp_path / "scaled", CheckpointError)
    (tmp_path / "scaled" / "levels.json").write_text(json.dumps({"levels": 17}))
    bundle = open_model(tmp_path / "scaled")
    assert bundle.info.levels == 17 and np.array_equal(bundle.stored.images[:, 0], digits)
    save_pngs(tmp_path / "raw", digits, 1)  # the levels themselves
    (tmp_path / "raw" / "levels.json").write_text(json.dumps({"levels": 17, "encoding": "levels"}))
    assert np.array_equal(open_model(tmp_path / "raw").stored.images[:, 0], digits)
    (tmp_path / "raw" / "levels.json").write_text(json.dumps({"levels": 5, "encoding": "levels"}))
    assert "pixel values reach 16, above the 5 levels 0..4" in refused(tmp_path / "raw", CheckpointError)


def test_float_samples_are_read_on_their_grid_or_must_declare_it(tmp_path):
    digits = DIGITS_TEST.images[:30]
    np.savez(tmp_path / "grid.npz", samples=digits / 16.0)
    assert open_model(tmp_path / "grid.npz").info.levels == 17  # the data say 17: no silent 256
    np.savez(tmp_path / "off.npz", samples=np.random.default_rng(0).uniform(size=(30, 1, 8, 8)))
    assert "lie on no grid of 2, 17 or 256 levels; declare the levels" in refused(tmp_path / "off.npz", CheckpointError)


def test_a_levels_mismatch_names_both_sides_and_the_fixes(tmp_path):
    np.savez(tmp_path / "wide.npz", samples=np.random.default_rng(0).integers(0, 256, size=(30, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError) as caught:
        evaluate(open_model(tmp_path / "wide.npz"), DIGITS_TEST, EvaluationSettings(n_samples=30, metrics=("ll",)))
    assert str(caught.value) == ("model wide models 256 levels but the reference data have 17: declare the model's "
                                 "true levels if they are wrong (ModelInfo.levels, meta.json 'levels', an .npz's "
                                 "'levels' key, levels.json beside an image folder), or choose data on 256 levels "
                                 "(--levels 256 if that is their grid)")


# --- the adapter contract --------------------------------------------------------------------------------


def vae_variant(folder, name, signature, info_k):
    return write(folder, name, f'''
from dataclasses import replace
from vae_adapter import VaeModel, load as load_vae

class NoK(VaeModel):
    {signature}
        return super().log_prob(y, generator)

def load(path):
    model = NoK(load_vae(path).vae)
    model.info = replace(model.info, bound_k={info_k})
    return model
''')


def test_bound_models_without_k_keep_their_own_k_or_say_the_fix(folder):
    path = vae_variant(folder, "nok_adapter.py", "def log_prob(self, y, generator=None):", 64)
    model = open_model(path, trust_code=True)
    result = evaluate_likelihood(model, DIGITS_TEST.images[:64], 17, device="cpu")
    assert result.convention.k_bound == 64 and result.mean_bpd < math.log2(17)
    with pytest.raises(ModelError, match=r"log_prob takes no k, so its bound keeps K=64 .* not K=8; accept it"):
        evaluate_likelihood(model, DIGITS_TEST.images[:8], 17, k_bound=8, device="cpu")
    path = vae_variant(folder, "nok_nobound_adapter.py", "def log_prob(self, y, generator=None):", None)
    assert "must accept k (the number of draws, IWAE-K), or its ModelInfo must declare bound_k" in refused(path)


def test_errors_inside_user_code_name_the_users_file_and_line(folder):
    write(folder, "helpers.py", "def broken(y):\n    return y.reshape(3, 5, 7)  # a shape bug\n")
    path = made_variant(folder, "raising_adapter.py", '''
from helpers import broken

class Raising(MadeModel):
    def log_prob(self, y, generator=None):
        return broken(y)

def load(path):
    return Raising(load_made(path).made)
''')
    message = refused(path)
    assert message.startswith("raising_adapter.py: log_prob raised RuntimeError at helpers.py line 2: shape")
    write(folder, "syntax_adapter.py", "def load(path):\n    return (\n")
    assert "at syntax_adapter.py line 2" in refused(folder / "syntax_adapter.py", CheckpointError)
    write(folder, "exiting_adapter.py", "import sys\n\ndef load(path):\n    sys.exit(3)\n")
    assert refused(folder / "exiting_adapter.py", CheckpointError) == (
        "exiting_adapter.py: the adapter raised SystemExit at exiting_adapter.py line 4: 3")


def test_an_adapters_hash_covers_the_files_it_loads(folder, tmp_path):
    before = content_hash(folder / "made_adapter.py")
    (folder / "unrelated.txt").write_text("notes")
    assert content_hash(folder / "made_adapter.py") == before  # it declares GENLOUPE_FILES: only those count
    weights = (folder / "made.pt").read_bytes()
    try:
        (folder / "made.pt").write_bytes(weights + b"\0")
        assert content_hash(folder / "made_adapter.py") != before
    finally:
        (folder / "made.pt").write_bytes(weights)
    (tmp_path / "a.py").write_text("def load(path):\n    pass\n")
    (tmp_path / "w.bin").write_bytes(b"1")
    undeclared = content_hash(tmp_path / "a.py")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"cache")
    assert content_hash(tmp_path / "a.py") == undeclared  # opening it writes caches: not a change
    (tmp_path / "w.bin").write_bytes(b"2")
    assert content_hash(tmp_path / "a.py") != undeclared  # no declaration: the whole folder counts


def test_a_file_that_goes_while_a_folder_is_hashed_is_left_out(tmp_path, monkeypatch):
    """A lock or temporary file removed by another process between the listing and the reading (the
    window's settings lock beside an adapter, seen on CI) is not part of what loads, and no error."""
    import genloupe.engine.checkpoints.hashing as hashing

    (tmp_path / "a.py").write_text("def load(path):\n    pass\n")
    (tmp_path / "w.bin").write_bytes(b"1")
    whole, adapter = content_hash(tmp_path), content_hash(tmp_path / "a.py")
    listing = hashing._loaded_files
    monkeypatch.setattr(hashing, "_loaded_files", lambda folder: [*listing(folder), folder / "settings.ini.lock"])
    assert content_hash(tmp_path) == whole
    assert content_hash(tmp_path / "a.py") == adapter


def test_export_names_the_random_call_it_cannot_take_and_its_line(folder, tmp_path):
    from genloupe.engine.checkpoints import export_bundle, load_raw

    path = write(folder, "examples_vae_adapter.py", '''
import torch
from vae_adapter import VaeModel, load as load_vae

class AsInPytorchExamples(VaeModel):
    def sample(self, n, generator=None):
        z = self.vae.reparameterize(torch.zeros(n, self.vae.latent), torch.zeros(n, self.vae.latent))  # randn_like
        return self.vae.sample(z, torch.rand(n, 64, generator=generator)).float().reshape(n, 1, 8, 8) / 16

def load(path):
    return AsInPytorchExamples(load_vae(path).vae)
''')
    line = next(i for i, text in enumerate((folder / "vae.py").read_text().splitlines(), 1) if "randn_like" in text)
    with pytest.raises(CheckpointError) as caught:
        export_bundle(load_raw(path, trust_code=True)[0], tmp_path / "b")
    assert str(caught.value) == (f"the model draws noise with randn_like at vae.py line {line}, which an export cannot "
                                 "take as an input; draw with torch.randn or torch.rand (uniform) instead")


ODD_MODELS = '''
import math
import torch
from torch import nn
from genloupe.engine.models.base import ModelInfo


class Odd(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        discrete = kind == "peaked"
        self.info = ModelInfo(name=kind, family="test", data_shape=(1, 8, 8), levels=17, likelihood="exact",
                              discrete=discrete)

    def log_prob(self, y, generator=None):
        if self.kind == "uniform":  # log p = 0 on [0, 1]^D
            return torch.zeros(len(y))
        if self.kind == "gaussian":  # N(0.5, 0.2^2) per pixel, unclamped
            return (-0.5 * ((y - 0.5) / 0.2) ** 2 - math.log(0.2 * math.sqrt(2 * math.pi))).flatten(1).sum(1)
        x = torch.round(y * 16)  # peaked: level 0 has probability 0.9, the others share the rest
        return torch.where(x == 0, math.log(0.9), math.log(0.1 / 16)).flatten(1).sum(1)

    def sample(self, n, generator=None):
        if self.kind == "gaussian":
            return 0.5 + 0.2 * torch.randn(n, 1, 8, 8, generator=generator)
        u = torch.rand(n, 1, 8, 8, generator=generator)
        return u if self.kind == "uniform" else torch.floor(u * 17).clamp(max=16) / 16  # not what log_prob says
'''


@pytest.mark.parametrize("kind, outcome", [
    ("uniform", "log_prob gives the same value for every image probed (a uniform model?)"),
    ("gaussian", "of the probe samples' values lie outside [0, 1] (from"),
    ("peaked", "bits/dim, worse than a uniform model's 4.087, which no model's own samples can"),
])
def test_legitimate_oddities_are_warnings_and_impossible_ones_errors(tmp_path, kind, outcome):
    (tmp_path / "odd.py").write_text(ODD_MODELS)
    (tmp_path / f"{kind}.py").write_text(f"from odd import Odd\n\ndef load(path):\n    return Odd({kind!r})\n")
    if kind == "peaked":
        assert outcome in refused(tmp_path / f"{kind}.py")
    else:
        warnings = open_model(tmp_path / f"{kind}.py", trust_code=True).info.extra["warnings"]
        assert len(warnings) == 1 and outcome in warnings[0]


def test_export_says_the_probes_warnings_as_open_does(tmp_path, capsys):
    from genloupe.app import cli

    (tmp_path / "odd.py").write_text(ODD_MODELS)
    (tmp_path / "uniform.py").write_text("from odd import Odd\n\ndef load(path):\n    return Odd('uniform')\n")
    assert cli.main(["export", str(tmp_path / "uniform.py"), "--trust-code", "--out", str(tmp_path / "u.zip")]) == 0
    out, err = capsys.readouterr()
    assert "reopened and checked" in out
    assert err.startswith("genloupe export: warning: ") and "same value for every image probed" in err


def test_declared_files_must_exist(tmp_path):
    (tmp_path / "a.py").write_text('GENLOUPE_FILES = ["weights.pt"]\n\ndef load(path):\n    pass\n')
    with pytest.raises(CheckpointError, match="GENLOUPE_FILES names 'weights.pt', which is not a file beside the adapter"):
        content_hash(tmp_path / "a.py")

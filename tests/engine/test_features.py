"""Feature extractors on the real digits: registry, digits-cnn, pixels, user files, batching, cache."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open

from genloupe.assets import build_digits_cnn
from genloupe.engine.data import open_data
from genloupe.engine.errors import Cancelled, CheckpointError, DataError, GenLoupeError, ModelError, UnsafeFileError
from genloupe.engine.features import FeatureExtractor, extract_features, get_extractor, list_extractors
from genloupe.engine.features.cache import default_cache_dir, file_sha256
from genloupe.engine.features.digits_cnn import default_weights_path
from genloupe.engine.progress import TaskProgress


@pytest.fixture(scope="module")
def digits():
    return open_data(None)


def features_of(extractor, data, **kwargs):
    return extract_features(extractor, data.images, data.levels, use_cache=False, **kwargs)


def test_registry_lists_builtins_with_the_default_first():
    assert list_extractors() == ["digits-cnn", "dinov2", "inception-fid", "pixels"]
    with pytest.raises(GenLoupeError, match="unknown feature extractor 'resnet'"):
        get_extractor("resnet")
    with pytest.raises(GenLoupeError, match=r"takes options \['dim', 'seed'\]"):
        get_extractor("pixels", weights="x.pth")
    assert get_extractor("pixels", dim=None).preprocessing.endswith("flattened")  # None means default


def test_shipped_digits_cnn_classifies_the_held_out_digits(digits):
    test = digits.split("test", seed=0)
    result = features_of("digits-cnn", test)
    assert result.features.shape == (len(test), 64) and result.features.dtype == np.float32
    assert result.logits.shape == (len(test), 10) and result.logits.dtype == np.float32
    accuracy = float(np.mean(result.logits.argmax(axis=1) == test.labels))
    assert accuracy >= 0.97
    assert (result.features >= 0).all() and result.features.std() > 0  # post-ReLU, not collapsed
    with safe_open(default_weights_path(), "pt") as handle:
        assert '"test_accuracy": "%.4f"' % accuracy in handle.metadata()["genloupe"]


def test_digits_cnn_rejects_other_shapes():
    images = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    with pytest.raises(DataError, match=r"takes images of shape \(1, 8, 8\), got \(3, 8, 8\)"):
        extract_features("digits-cnn", images, 17, use_cache=False)


def test_build_script_is_reproducible_and_loadable(tmp_path, digits):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    recipe = build_digits_cnn.build(str(first), epochs=3, seed=3)
    build_digits_cnn.build(str(second), epochs=3, seed=3)
    assert first.read_bytes() == second.read_bytes()
    assert recipe["epochs"] == "3" and float(recipe["test_accuracy"]) > 0.5  # learning, far from chance
    retrained = get_extractor("digits-cnn", weights=first)
    assert retrained.weights_hash != get_extractor("digits-cnn").weights_hash
    assert features_of(retrained, digits.subset(np.arange(5))).features.shape == (5, 64)


def test_bad_digits_weights_give_a_one_line_error(tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="bogus.safetensors: not a readable safetensors file") as error:
        get_extractor("digits-cnn", weights=bogus)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, options", [("digits-cnn", {}), ("pixels", {"dim": 16})])
def test_features_are_identical_for_any_batch_size(digits, name, options):
    extractor = get_extractor(name, **options)
    reference = features_of(extractor, digits)
    for batch_size in (1, 2, 7, 500):
        other = features_of(extractor, digits, batch_size=batch_size)
        np.testing.assert_array_equal(other.features, reference.features)
        if reference.logits is not None:
            np.testing.assert_array_equal(other.logits, reference.logits)


def test_pixels_are_display_values_and_projection_is_fixed(digits):
    sample = digits.subset(np.arange(200))
    raw = features_of("pixels", sample)
    np.testing.assert_array_equal(raw.features, sample.as_float().reshape(200, -1))
    assert raw.logits is None
    projected = features_of(get_extractor("pixels", dim=32), sample).features
    again = features_of(get_extractor("pixels", dim=32), sample).features
    other_seed = features_of(get_extractor("pixels", dim=32, seed=1), sample).features
    assert projected.shape == (200, 32)
    np.testing.assert_array_equal(projected, again)
    assert not np.allclose(projected, other_seed)
    # a Gaussian projection keeps pairwise distances on average (Johnson-Lindenstrauss)
    pairs = np.random.default_rng(0).integers(0, 200, size=(500, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    before = np.linalg.norm(raw.features[pairs[:, 0]] - raw.features[pairs[:, 1]], axis=1)
    after = np.linalg.norm(projected[pairs[:, 0]] - projected[pairs[:, 1]], axis=1)
    assert 0.85 < np.median(after / before) < 1.15
    with pytest.raises(GenLoupeError, match="dim must be a positive integer"):
        get_extractor("pixels", dim=0)


def test_cache_hit_skips_the_network(tmp_path, digits, monkeypatch):
    sample = digits.subset(np.arange(100))
    extractor = get_extractor("digits-cnn")
    calls = []
    forward = extractor.module.forward
    monkeypatch.setattr(extractor.module, "forward", lambda x: calls.append(len(x)) or forward(x))

    first = extract_features(extractor, sample.images, sample.levels, cache_dir=tmp_path, batch_size=40)
    assert calls == [40, 40, 20] and not first.from_cache
    assert len(list(tmp_path.glob("*.npz"))) == 1

    second = extract_features(extractor, sample.images, sample.levels, cache_dir=tmp_path)
    assert calls == [40, 40, 20] and second.from_cache
    np.testing.assert_array_equal(second.features, first.features)
    np.testing.assert_array_equal(second.logits, first.logits)

    # other data (one pixel changed) and another extractor are misses
    changed = sample.images.copy()
    changed[0, 0, 0, 0] = (changed[0, 0, 0, 0] + 1) % sample.levels
    extract_features(extractor, changed, sample.levels, cache_dir=tmp_path)
    assert len(calls) == 4
    assert not extract_features("pixels", sample.images, sample.levels, cache_dir=tmp_path).from_cache
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_corrupt_cache_entry_is_recomputed(tmp_path, digits):
    sample = digits.subset(np.arange(30))
    first = extract_features("pixels", sample.images, sample.levels, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"truncated")
    again = extract_features("pixels", sample.images, sample.levels, cache_dir=tmp_path)
    assert not again.from_cache
    np.testing.assert_array_equal(again.features, first.features)
    assert extract_features("pixels", sample.images, sample.levels, cache_dir=tmp_path).from_cache


def test_weights_hashes_are_remembered_until_the_file_changes(tmp_path):
    """Hashing DINOv2's 1.2 GB on every load took seconds: the hash is kept under the file's path, size and
    modification time, and a rewritten file, or a note that is not a hash, is hashed again."""
    weights, cache = tmp_path / "weights.bin", tmp_path / "cache"
    weights.write_bytes(b"some weights")
    true = hashlib.sha256(b"some weights").hexdigest()
    assert file_sha256(weights, cache) == true
    (note,) = (cache / "weights-sha256").iterdir()
    note.write_text("0" * 64)  # what is remembered is what is used: the file is not read again
    assert file_sha256(weights, cache) == "0" * 64
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # rewritten: another mtime
    assert file_sha256(weights, cache) == true
    for garbage in ("not a hash", "A" * 64, "0" * 200):
        for old in (cache / "weights-sha256").iterdir():
            old.write_text(garbage)
        assert file_sha256(weights, cache) == true
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    with pytest.warns(RuntimeWarning, match="not written"):
        assert file_sha256(weights, blocked) == true


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLOUPE_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "features"
    monkeypatch.delenv("GENLOUPE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "genloupe" / "features"


def test_progress_reports_batches_and_cancel_stops(digits):
    seen = []
    progress = TaskProgress(on_update=lambda done, total, stage: seen.append((done, total, stage)))
    features_of("digits-cnn", digits.subset(np.arange(250)), batch_size=100, progress=progress)
    assert [done for done, _, _ in seen] == [0, 100, 200, 250]
    assert {total for _, total, _ in seen} == {250} and seen[-1][2] == "features (digits-cnn)"

    cancelling = TaskProgress(on_update=lambda done, total, stage: done >= 100 and cancelling.cancel())
    with pytest.raises(Cancelled):
        features_of("digits-cnn", digits.subset(np.arange(250)), batch_size=100, progress=cancelling)


def test_images_are_validated():
    with pytest.raises(DataError, match="outside the declared levels"):
        extract_features("pixels", np.full((2, 1, 8, 8), 17), 17, use_cache=False)
    with pytest.raises(DataError, match="no images"):
        extract_features("pixels", np.zeros((0, 1, 8, 8), dtype=np.uint8), 17, use_cache=False)


class TwoHeads(torch.nn.Module):
    """A user network returning (features, logits) from images in [0, 1]."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = torch.flatten(x, 1)
        return flat * 2.0, flat[:, :3]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_torchscript_user_extractor(tmp_path, digits):
    path = tmp_path / "mine.pt"
    torch.jit.script(TwoHeads()).save(str(path))
    sample = digits.subset(np.arange(10))
    with pytest.raises(UnsafeFileError, match="--trust-code"):
        get_extractor(path)  # TorchScript's compiled code could write files: only with the person's trust
    result = extract_features(get_extractor(path, trust_code=True), sample.images, sample.levels, cache_dir=tmp_path)
    assert result.extractor == "mine.pt"
    np.testing.assert_allclose(result.features, 2 * sample.as_float().reshape(10, -1))
    np.testing.assert_allclose(result.logits, sample.as_float().reshape(10, -1)[:, :3])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_exported_user_extractor_and_its_errors(tmp_path, digits):
    example = torch.rand(4, 1, 8, 8)
    batch = torch.export.Dim("batch")
    path = tmp_path / "mine.pt2"
    torch.export.save(torch.export.export(TwoHeads(), (example,), dynamic_shapes=({0: batch},)), str(path))
    sample = digits.subset(np.arange(9))
    result = extract_features(get_extractor(path), sample.images, sample.levels, use_cache=False, batch_size=5)
    np.testing.assert_allclose(result.features, 2 * sample.as_float().reshape(9, -1))

    static = tmp_path / "static.pt2"
    torch.export.save(torch.export.export(TwoHeads(), (example,)), str(static))
    with pytest.raises(ModelError, match="'static.pt2' failed on a batch of shape"):
        extract_features(get_extractor(static), sample.images, sample.levels, use_cache=False, batch_size=5)

    scalar = tmp_path / "scalar.pt"
    torch.jit.script(torch.nn.Flatten(0)).save(str(scalar))
    with pytest.raises(ModelError, match=r"must return features of shape \(9, d\), got \(576,\)"):
        extract_features(get_extractor(scalar, trust_code=True), sample.images, sample.levels, use_cache=False)

    pickled = tmp_path / "pickled.pt"
    torch.save({"weight": torch.zeros(3)}, pickled)
    with pytest.raises(CheckpointError, match=r"pickled.pt: cannot load as a feature extractor .*torch.jit.script"):
        get_extractor(pickled, trust_code=True)
    with pytest.raises(CheckpointError, match="not found"):
        get_extractor(tmp_path / "absent.pt2")


class Recording(torch.nn.Module):
    """Flattens; records each batch size, the TF32 flags and grad mode; 'runs out of memory' above 3 rows."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        self.seen.append((len(x), *flags, torch.is_inference_mode_enabled()))
        if len(x) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return torch.flatten(x, 1)


@pytest.fixture
def tf32_on():
    """TF32 allowed around the test, as a caller may have set it; the flags are restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_extraction_backs_off_on_out_of_memory_with_tf32_off(digits, tf32_on):
    module = Recording()
    extractor = FeatureExtractor(name="recording", module=module, weights_hash="-", preprocessing="flat")
    sample = digits.subset(np.arange(10))
    result = extract_features(extractor, sample.images, sample.levels, use_cache=False, batch_size=16)
    np.testing.assert_array_equal(result.features, sample.as_float().reshape(10, -1))
    assert [size for size, *_ in module.seen] == [10, 8, 4, 2, 2, 2, 2, 2]  # batch 16, 8, 4 fail; 2 fits
    assert {tuple(flags) for _, *flags in module.seen} == {(False, False, True)}  # TF32 off, inference mode
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32  # restored


def test_a_user_pt2_that_would_run_code_is_refused_before_torch_loads_it(tmp_path):
    from tests.app.test_cli_info import inject_expression, rewrite_zip

    good = tmp_path / "good.pt2"
    torch.export.save(torch.export.export(TwoHeads(), (torch.rand(4, 1, 8, 8),),
                                          dynamic_shapes=({0: torch.export.Dim("batch")},)), str(good))
    marker = tmp_path / "marker"
    evil = rewrite_zip(good, tmp_path / "evil.pt2", lambda name, data: inject_expression(name, data, marker))
    with pytest.raises(GenLoupeError):
        get_extractor(evil)
    assert not marker.exists()

"""Model, reference and features checked before any sampling; the default features follow the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genloupe.engine.compatibility import check_compatibility, default_features
from genloupe.engine.data import Dataset, open_data
from genloupe.engine.errors import CheckpointError, DataError, GenLoupeError, UnsafeFileError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.models.gaussian import DiagonalGaussian
from genloupe.engine.progress import TaskProgress


class Stages(TaskProgress):
    """A real progress object that keeps the stages it was told about."""

    def __init__(self) -> None:
        super().__init__()
        self.stages: list[str] = []

    def update(self, done: int, total: int | None = None, stage: str = "") -> None:
        self.stages.append(stage)
        super().update(done, total, stage)


def upsampled_digits(n: int = 120, size: int = 28) -> Dataset:
    digits = open_data("digits")
    images = torch.nn.functional.interpolate(torch.from_numpy(digits.images[:n]).float(), size=(size, size),
                                             mode="bilinear", align_corners=False)
    return Dataset(name="digits28", images=np.round(images.numpy() * 255 / 16).astype(np.uint8), levels=256)


@pytest.fixture(scope="module")
def data28() -> Dataset:
    return upsampled_digits()


@pytest.fixture(scope="module")
def model28(data28) -> DiagonalGaussian:
    model = DiagonalGaussian([1, 28, 28], 256)
    model.init_from_data(torch.from_numpy(data28.images.astype(np.int64)), torch.Generator().manual_seed(0))
    return model


def test_default_features_follow_the_data(monkeypatch, tmp_path):
    assert default_features((1, 8, 8)) == "digits-cnn"
    assert default_features((1, 28, 28)) == "pixels"  # no Inception weights anywhere (tests/conftest.py)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")  # where pytorch-fid caches it
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert default_features((1, 28, 28)) == default_features((3, 32, 32)) == "inception-fid"
    assert default_features((2, 28, 28)) == "pixels"  # Inception takes grey or RGB only
    assert default_features((1, 8, 8)) == "digits-cnn"


@pytest.mark.parametrize("features, error, words", [
    ("digits-cnn", DataError, ["features digits-cnn take 1x8x8 images only", "the data are 1x28x28", "pixels"]),
    ("dinov2", CheckpointError, ["dinov2 needs the weights file dinov2_vitl14_pretrain.pth", "--dinov2-weights"]),
    ("inception-fid", CheckpointError, ["FID Inception weights", "--inception-weights", "hub/checkpoints"]),
    ("pixels:0", GenLoupeError, ["pixels:0: the dimension after 'pixels:' must be a positive integer"]),
    ("pixels:99999", DataError, ["features pixels:99999 project to 99999 dimensions", "only 784 pixel values",
                                 "pixels:D with D <= 784"]),  # its D x D covariance would need 80 GB after sampling
    ("resnet", GenLoupeError, ["unknown feature extractor 'resnet'"]),
])
def test_features_that_cannot_fit_fail_before_sampling(model28, data28, features, error, words):
    progress = Stages()
    with pytest.raises(error) as raised:
        evaluate(model28, data28, EvaluationSettings(n_samples=50, features=features, device="cpu"), progress=progress)
    message = str(raised.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert progress.stages == []  # nothing sampled, nothing scored


def test_a_model_of_another_shape_or_levels_names_both_sides(model28, data28):
    digits = open_data("digits").split("test")
    with pytest.raises(DataError, match=r"makes images of shape 1x28x28 but the reference data are 1x8x8"):
        check_compatibility(model28.info, digits.shape, digits.levels, "auto")
    with pytest.raises(DataError, match=r"models 256 levels but the reference data have 17: .*--levels 256"):
        check_compatibility(model28.info, (1, 28, 28), 17, "auto")
    scorer = DiagonalGaussian([1, 8, 8], 17)
    with pytest.raises(DataError, match=r"^scoring model diagonal Gaussian makes images of shape 1x8x8"):
        check_compatibility(model28.info, data28.shape, data28.levels, "auto", scorer=scorer.info)


def test_likelihood_only_evaluations_need_no_features(model28, data28):
    result = evaluate(model28, data28, EvaluationSettings(n_samples=20, metrics=("ll",), features="digits-cnn", device="cpu"))
    assert "sample" in result.likelihood and "fid" not in result.metrics


def test_pixels_with_a_dimension_and_their_caveat(model28, data28):
    result = evaluate(model28, data28, EvaluationSettings(n_samples=60, metrics=("fid", "pr"), features="pixels:32",
                                                          device="cpu"))
    assert result.settings.features == "pixels:32"
    assert result.metrics["fid"]["convention"] == (
        "pixels features (d=32); pixel-space metrics are a weak proxy for sample quality")
    auto = evaluate(model28, data28, EvaluationSettings(n_samples=60, metrics=("pr",), device="cpu"))
    assert auto.settings.features == "pixels" and "d=784" in auto.metrics["precision"]["convention"]


def test_a_user_extractor_is_tried_on_one_image_of_the_data(model28, data28, tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))  # made for 1x8x8 images
    path = tmp_path / "eight.pt2"
    torch.export.save(torch.export.export(net.eval(), (torch.zeros(2, 1, 8, 8),)), path)
    progress = Stages()
    with pytest.raises(DataError, match=r"^features eight.pt2 cannot take the data \(1x28x28\): feature extractor "):
        evaluate(model28, data28, EvaluationSettings(n_samples=50, features=str(path), device="cpu"), progress=progress)
    assert progress.stages == []
    script = tmp_path / "eight.pt"
    torch.jit.script(net).save(str(script))
    with pytest.raises(UnsafeFileError, match="--trust-code"):
        check_compatibility(model28.info, data28.shape, data28.levels, str(script))

"""Planted cases for the suggestion rules: known-bad images mixed among good ones, on the embedded digits.

The good model is the data itself: its "samples" are the validation split, real images no rule should
flag beyond its stated rate. The training split is the manifold every image is scored against and the
test split, disjoint from both, calibrates the thresholds. Each kind plants ``n`` images of one sort:

- ``near_blank``: near-blank images (a few faint pixels) that the autoregressive demo model ranks highest;
- ``noise``: uniform noise on the 17 levels, what a good model mixed with noise draws (Theis et al. 2016);
- ``wrong_dataset``: 8×8 patches of scikit-learn's two photographs, on the digits' 17 levels;
- ``near_copy``: training digits moved by ±1 level on 1–3 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import numpy as np

from genloupe.engine import metrics as M
from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.features import extract_features, get_extractor
from genloupe.engine.likelihood import evaluate_likelihood

KINDS = ("near_blank", "noise", "wrong_dataset", "near_copy")
RULE_OF_KIND = {"near_blank": "likely_but_bad", "noise": "unrealistic", "wrong_dataset": "unrealistic",
                "near_copy": "memorized"}


@dataclass
class Scored:
    """Per-image columns as the evaluation stores them: log_px, realism_train, train_nn_distance, train_nn_id."""

    columns: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, index: np.ndarray) -> "Scored":
        return Scored({name: values[index] for name, values in self.columns.items()})

    @staticmethod
    def join(a: "Scored", b: "Scored") -> "Scored":
        return Scored({name: np.concatenate([a[name], b[name]]) for name in a.columns})


def near_blank_candidates(n: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    images = np.zeros((n, *shape), np.uint8)
    for image in images.reshape(n, -1):
        where = rng.choice(image.size, rng.integers(1, 5), replace=False)
        image[where] = rng.integers(1, 5, len(where))
    return images


def photo_patches(n: int, levels: int, rng: np.random.Generator) -> np.ndarray:
    """8×8 grey patches of 32×32 crops (block means) of scikit-learn's sample photographs."""
    from sklearn.datasets import load_sample_images

    photos = [image.mean(2) for image in load_sample_images().images]
    patches = []
    for _ in range(n):
        photo = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, photo.shape[0] - 32), rng.integers(0, photo.shape[1] - 32)
        block = photo[y:y + 32, x:x + 32].reshape(8, 4, 8, 4).mean((1, 3))
        patches.append(np.round(block / 255 * (levels - 1)))
    return np.asarray(patches, np.uint8)[:, None]


def near_copies(training: np.ndarray, n: int, levels: int, rng: np.random.Generator) -> np.ndarray:
    picked = training[rng.choice(len(training), n, replace=False)].astype(np.int64)
    for image in picked.reshape(n, -1):
        where = rng.choice(image.size, rng.integers(1, 4), replace=False)
        image[where] = np.clip(image[where] + rng.choice([-1, 1], len(where)), 0, levels - 1)
    return picked.astype(np.uint8)


class PlantedDigits:
    """Scores of the good samples, the held-out calibration images and each planted kind, computed once."""

    def __init__(self, n: int = 60, seed: int = 0, manifold_split: str = "train", calibration_split: str = "test",
                 good_split: str = "val") -> None:
        rng = np.random.default_rng(seed)
        data = open_data("digits")
        self.levels = data.levels
        self.training = data.split(manifold_split).images
        calibration, good = data.split(calibration_split).images, data.split(good_split).images
        self.model = open_model(str(files("genloupe.assets") / "demo" / "autoregressive.pt"))
        self.extractor = get_extractor("digits-cnn")
        blanks = near_blank_candidates(8 * n, calibration.shape[1:], rng)
        blanks = blanks[np.argsort(-self.log_px(blanks), kind="stable")[:n]]  # the ones the model ranks highest
        planted = {
            "near_blank": blanks,
            "noise": rng.integers(0, self.levels, (n, *calibration.shape[1:])).astype(np.uint8),
            "wrong_dataset": photo_patches(n, self.levels, rng),
            "near_copy": near_copies(self.training, n, self.levels, rng),
        }
        self.train_features = self.features(self.training)
        self.calibration = self.score(calibration)
        self.good = self.score(good)
        self.planted = {kind: self.score(images) for kind, images in planted.items()}

    def features(self, images: np.ndarray) -> np.ndarray:
        return extract_features(self.extractor, images, self.levels, device="cpu").features

    def log_px(self, images: np.ndarray) -> np.ndarray:
        return evaluate_likelihood(self.model, images, self.levels, device="cpu").log_px

    def score(self, images: np.ndarray) -> Scored:
        """Exactly as the evaluation scores samples: against the training images' balls and nearest neighbours."""
        features = self.features(images)
        nearest = M.nearest_real(features, self.train_features, k=1, device="cpu")
        return Scored({
            "log_px": self.log_px(images),
            "realism_train": M.precision_recall(self.train_features, features, k=3, device="cpu").realism,
            "train_nn_distance": nearest.distances[:, 0],
            "train_nn_id": nearest.indices[:, 0],
        })

    def mixture(self, kind: str) -> tuple[Scored, np.ndarray]:
        """The good samples followed by the planted ones of ``kind``, and the planted mask."""
        planted = self.planted[kind]
        mask = np.r_[np.zeros(len(self.good["log_px"]), bool), np.ones(len(planted["log_px"]), bool)]
        return Scored.join(self.good, planted), mask

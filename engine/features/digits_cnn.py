"""`digits-cnn`: the embedded default extractor, a small classifier of the 8x8 digits.

Features are its penultimate layer (64-d, after ReLU); logits are its 10 class scores (for IS).
It is trained in float32 but extracts in float64, rounding the outputs to float32: the network is
tiny, and so its features are the same bits whatever the batch size (float32 convolutions and
matrix products pick kernels by batch size and differ in the last bits).
Weights ship in genloupe/assets/digits_cnn.safetensors and are rebuilt, bit for bit on one machine,
by ``python -m genloupe.assets.build_digits_cnn``.
"""

from __future__ import annotations

import os
from importlib import resources

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import CheckpointError
from .cache import file_sha256
from .extractor import FeatureExtractor, first_line, require_shape

NAME = "digits-cnn"
IMAGE_SHAPE = (1, 8, 8)
FEATURE_DIM = 64
CLASSES = 10
WEIGHTS_FILE = "digits_cnn.safetensors"
PREPROCESSING = "display values x/(L-1) in [0,1], shape (1,8,8), no resize, computed in float64"


class DigitsCNN(nn.Module):
    """Three 3x3 convolutions and three dense layers; input (N, 1, 8, 8) in [0, 1], any float dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 2x2
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, 128),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(128, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x.to(self.head.weight.dtype))
        return features, self.head(features)


def default_weights_path() -> str:
    return str(resources.files("genloupe.assets").joinpath(WEIGHTS_FILE))


def load(weights: str | os.PathLike | None = None) -> FeatureExtractor:
    """The digits CNN from the shipped weights, or from ``weights`` (a safetensors file)."""
    path = os.fspath(weights) if weights is not None else default_weights_path()
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{path}: digits-cnn weights not found; rebuild them with python -m genloupe.assets.build_digits_cnn"
        )
    try:
        state = load_file(path)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    module = DigitsCNN()
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: not digits-cnn weights ({first_line(error)})") from None
    return FeatureExtractor(
        name=NAME,
        module=module.double().eval(),
        weights_hash=file_sha256(path),
        preprocessing=PREPROCESSING,
        default_batch_size=1024,
        check_shape=require_shape(NAME, IMAGE_SHAPE),
    )

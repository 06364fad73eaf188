"""Test data at a researcher's size, made at test time: the embedded digits upsampled to 28x28 PNGs, and a
diagonal Gaussian fitted to them (its closed-form maximum-likelihood fit: no training loop)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genloupe.engine.checkpoints.zoo import save_checkpoint
from genloupe.engine.data import open_data
from genloupe.engine.models.gaussian import DiagonalGaussian

SIZE = 28


def write_digits28(folder: Path, n: int = 1000) -> Path:
    """``n`` digits, bilinearly upsampled from 8x8 (17 levels) to 28x28 8-bit grey PNGs."""
    digits = open_data("digits")
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(digits.images[:n, 0]):
        eight_bit = Image.fromarray(np.round(image * (255 / (digits.levels - 1))).astype(np.uint8), "L")
        eight_bit.resize((SIZE, SIZE), Image.BILINEAR).save(folder / f"{index:05d}.png")
    return folder


def gaussian28(folder: Path, path: Path) -> Path:
    """A diagonal Gaussian at the moments of the folder's training split, saved as a GenLoupe checkpoint."""
    train = open_data(folder).split("train")
    model = DiagonalGaussian([1, SIZE, SIZE], train.levels)
    model.init_from_data(torch.from_numpy(train.images.astype(np.int64)), torch.Generator().manual_seed(0))
    return save_checkpoint(model, path)

"""The embedded default: scikit-learn's 8x8 digits (ships with scikit-learn, nothing to download)."""

from __future__ import annotations

import numpy as np

from .checks import fit_levels
from .dataset import Dataset

DIGITS_LEVELS = 17  # pixel values are counts 0..16


def read_digits(levels: int | None = None) -> Dataset:
    """1797 images of shape (1, 8, 8) on 17 levels, with their digit labels."""
    from sklearn.datasets import load_digits  # scikit-learn is slow to import; only this source needs it

    bunch = load_digits()
    images, levels = fit_levels(
        bunch.images.astype(np.int64)[:, None], "digits", DIGITS_LEVELS if levels is None else levels
    )
    return Dataset(
        name="digits",
        images=images,
        levels=levels,
        labels=bunch.target.astype(np.int64),
        source="sklearn.datasets.load_digits",
        ids=np.arange(len(images)),
        format="digits",
    )

"""NumPy sources: a .npy array, or a .npz archive with images, optional labels and levels.

Layout rule: rank 3 is (N, H, W) grey; rank 4 is channels-first (N, C, H, W) when axis 1 has
size 1, 3 or 4, else channels-last (N, H, W, C) when axis 3 does. Only images 1, 3 or 4 pixels
high are ambiguous, and they are read channels-first.
Archive keys: images from ``images``, ``x`` or ``x_train`` (or the only array stored), labels
from ``labels``, ``y`` or ``y_train``, levels from ``levels`` (a ``levels=`` argument wins).
Levels are otherwise inferred from the largest value (see checks.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import io as bounded
from ..errors import DataError
from .checks import check_levels, fit_levels
from .dataset import Dataset

CHANNELS = (1, 3, 4)
IMAGE_KEYS = ("images", "x", "x_train")
LABEL_KEYS = ("labels", "y", "y_train")
LEVELS_KEY = "levels"


def read_npy(path: Path, levels: int | None) -> Dataset:
    array = bounded.load_npy(path, str(path), DataError)
    return _dataset(path, "npy", array, None, levels)


def read_npz(path: Path, levels: int | None) -> Dataset:
    arrays = bounded.load_npz(path, str(path), DataError, _wanted(path))  # headers checked before any array is read
    image_key = _image_key(path, list(arrays))
    label_key = next((key for key in LABEL_KEYS if key in arrays), None)
    images, labels, stored_levels = arrays[image_key], arrays.get(label_key), arrays.get(LEVELS_KEY)
    if levels is None and stored_levels is not None:
        levels = _stored_levels(path, stored_levels)
    return _dataset(path, "npz", images, labels, levels)


def _wanted(path: Path):
    """The keys read from an archive: its images, labels and levels (other arrays are never loaded)."""
    def pick(keys: list[str]) -> list[str]:
        label = next((key for key in LABEL_KEYS if key in keys), None)
        return [_image_key(path, keys), *(key for key in (label, LEVELS_KEY) if key in keys)]

    return pick


def _image_key(path: Path, keys: list[str]) -> str:
    key = next((key for key in IMAGE_KEYS if key in keys), None)
    others = [key for key in keys if key not in LABEL_KEYS and key != LEVELS_KEY]
    if key is None and len(others) == 1:
        key = others[0]
    if key is None:
        raise DataError(
            f"{path}: no image array: expected a key among {', '.join(IMAGE_KEYS)} "
            f"(found {', '.join(keys) or 'none'})"
        )
    return key


def _stored_levels(path: Path, stored: np.ndarray) -> int:
    if stored.ndim != 0 or stored.dtype.kind not in "ui":
        raise DataError(f"{path}: '{LEVELS_KEY}' must be one integer, got {stored.dtype} of shape {stored.shape}")
    value = int(stored)
    check_levels(value, str(path))
    return value


def _dataset(path: Path, fmt: str, array: np.ndarray, labels: np.ndarray | None, levels: int | None) -> Dataset:
    images, levels = fit_levels(to_nchw(array, str(path)), str(path), levels)
    return Dataset(
        name=path.name,
        images=images,
        levels=levels,
        labels=None if labels is None else _labels(path, labels, len(images)),
        source=str(path),
        ids=np.arange(len(images)),
        format=fmt,
    )


def to_nchw(array: np.ndarray, where: str) -> np.ndarray:
    """(N, H, W), (N, C, H, W) or (N, H, W, C) to (N, C, H, W) by the layout rule above."""
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:
        if array.shape[1] in CHANNELS:
            return array
        if array.shape[3] in CHANNELS:
            return np.ascontiguousarray(array.transpose(0, 3, 1, 2))
        raise DataError(
            f"{where}: shape {array.shape} has no channel axis of size 1, 3 or 4 at position 1 or 3"
        )
    raise DataError(
        f"{where}: array of shape {array.shape} (rank {array.ndim}), expected (N, H, W), (N, C, H, W) or (N, H, W, C)"
    )


def _labels(path: Path, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise DataError(f"{path}: labels must be one integer per image, got {labels.dtype} of shape {labels.shape}")
    if len(labels) != count:
        raise DataError(f"{path}: {len(labels)} labels for {count} images")
    return labels.astype(np.int64)

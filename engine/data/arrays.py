"""NumPy sources: a .npy array, or a .npz archive with images, optional labels and levels.

Layout rule: rank 3 is (N, H, W) grey; rank 4 is channels-first (N, C, H, W) when axis 1 has
size 1, 3 or 4, else channels-last (N, H, W, C) when axis 3 does. Only images 1, 3 or 4 pixels
high are ambiguous, and they are read channels-first.
Archive keys: images from ``images``, ``x`` or ``x_train`` (or the only array stored), labels
from ``labels``, ``y`` or ``y_train``, levels from ``levels`` (a ``levels=`` argument wins).
Levels are otherwise inferred from the largest value (see checks.py).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .checks import check_levels, fit_levels, one_line
from .dataset import Dataset

CHANNELS = (1, 3, 4)
IMAGE_KEYS = ("images", "x", "x_train")
LABEL_KEYS = ("labels", "y", "y_train")
LEVELS_KEY = "levels"


def read_npy(path: Path, levels: int | None) -> Dataset:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy array ({one_line(error)})") from None
    return _dataset(path, "npy", array, None, levels)


def read_npz(path: Path, levels: int | None) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            image_key = _image_key(path, keys)
            label_key = next((key for key in LABEL_KEYS if key in keys), None)
            images = archive[image_key]
            labels = None if label_key is None else archive[label_key]
            stored_levels = archive[LEVELS_KEY] if LEVELS_KEY in keys else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz archive ({one_line(error)})") from None
    if levels is None and stored_levels is not None:
        levels = _stored_levels(path, stored_levels)
    return _dataset(path, "npz", images, labels, levels)


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

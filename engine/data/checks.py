"""Turning raw integer arrays into pixel levels, with one-line errors that name the file.

Levels rule (when the caller gives none): the smallest of 2, 17, 256, 65536 that exceeds the
largest value, so binarized data gets 2, scikit-learn's digits 17, 8-bit images 256 and 16-bit
images 65536. Pass ``levels=`` when the data's grid is not the one its maximum suggests (a dark
8-bit set whose brightest pixel is 16 is still on 256 levels).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..io import one_line

__all__ = ["check_levels", "fit_levels", "one_line"]

MAX_LEVELS = 65536  # Dataset holds pixels as uint8 or uint16
INFERRED_LEVELS = (2, 17, 256, MAX_LEVELS)


def check_levels(levels: int | None, where: str = "") -> None:
    if levels is not None and not 2 <= levels <= MAX_LEVELS:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}levels must be between 2 and {MAX_LEVELS}, got {levels}")


def fit_levels(values: np.ndarray, where: str, levels: int | None) -> tuple[np.ndarray, int]:
    """Check that ``values`` are integer levels below ``levels`` (inferred when None); store as uint8/uint16."""
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    if values.dtype.kind not in "ui":
        raise DataError(
            f"{where}: {values.dtype} values, expected integer levels 0..L-1 "
            "(quantize first, e.g. round(x * 255) as uint8)"
        )
    if values.size == 0:
        raise DataError(f"{where}: no images in it")
    low, high = int(values.min()), int(values.max())
    if low < 0:
        raise DataError(f"{where}: negative values (min {low}); pixel levels are integers 0..L-1")
    if levels is None:
        levels = next((candidate for candidate in INFERRED_LEVELS if high < candidate), None)
        if levels is None:
            raise DataError(f"{where}: values up to {high} exceed {MAX_LEVELS - 1}, the most levels GenLoupe holds")
    elif high >= levels:
        raise DataError(f"{where}: values up to {high} lie outside the declared levels 0..{levels - 1}")
    dtype = np.uint8 if levels <= 256 else np.uint16
    return values.astype(dtype, copy=False), levels


def levels_mismatch(model: str, model_levels: int, data: str, data_levels: int) -> DataError:
    """The one error for a model and data on different grids: both sides, and how to reconcile them
    (likelihood, evaluation and the compatibility checks all raise it)."""
    return DataError(f"{model} models {model_levels} levels but {data} have {data_levels}: declare the model's true "
                     f"levels if they are wrong (ModelInfo.levels, meta.json 'levels', an .npz's 'levels' key, "
                     f"levels.json beside an image folder), or choose data on {model_levels} levels "
                     f"(--levels {model_levels} if that is their grid)")

"""Model, reference data and feature extractor checked against each other before any sampling.

Sampling and scoring a model can take minutes; a feature extractor that cannot take the data used
to fail only after them. These checks read shapes, levels and file locations (no weights are
loaded, except a user's extractor file, which is run on one blank image of the data's shape), so
they take well under a second. Each failure is one line naming both sides and the fix.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .data.checks import levels_mismatch
from .errors import DataError, GenLoupeError
from .features.digits_cnn import IMAGE_SHAPE as DIGITS_SHAPE
from .features.registry import AUTO, DEFAULT, ENTRIES, PIXELS_NOTE, is_user_file, parse_spec
from .features.weights import find_weights
from .models.base import ModelInfo

Shape = tuple[int, int, int]


def default_features(shape: Shape, inception_weights: str | os.PathLike | None = None) -> str:
    """What ``auto`` means for data of this shape: the features that follow the data.

    digits-cnn only where it applies (1x8x8); else inception-fid when its weights file is found
    (flag, variable or torch hub's cache) and the images are grey or RGB; else pixels (weak proxy).
    """
    if tuple(shape) == DIGITS_SHAPE:
        return DEFAULT
    inception = ENTRIES["inception-fid"]
    found = find_weights(inception.weights, inception_weights)
    if shape[0] in (1, 3) and found is not None and os.path.isfile(found.path):
        return inception.name
    return "pixels"


def resolve_features(spec: str, shape: Shape, inception_weights: str | os.PathLike | None = None) -> str:
    """``auto`` to the default for this shape; any other spec unchanged."""
    return default_features(shape, inception_weights) if spec == AUTO else spec


def features_note(spec: str) -> str:
    """A caveat to show beside the metrics of these features ('' when there is none)."""
    if is_user_file(spec):
        return ""
    return ENTRIES[parse_spec(spec)[0]].note


def check_model_fits_data(info: ModelInfo, shape: Shape, levels: int, role: str = "model") -> None:
    """The model draws and scores images of the reference's shape and levels."""
    if tuple(info.data_shape) != tuple(shape):
        raise DataError(
            f"{role} {info.name} makes images of shape {_shape(info.data_shape)} but the reference data are "
            f"{_shape(shape)}: choose reference data of the model's shape (File ▸ Reference data, --reference)"
        )
    if int(info.levels) != int(levels):
        raise levels_mismatch(f"{role} {info.name}", int(info.levels), "the reference data", int(levels))


def check_features_fit_data(spec: str, options: dict[str, Any], shape: Shape, levels: int) -> None:
    """The extractor accepts images of this shape, and its weights are where it will look."""
    if is_user_file(spec):
        _try_user_extractor(spec, options, shape, levels)
        return
    name, parsed = parse_spec(spec)  # raises for a malformed pixels:D
    entry = ENTRIES[name]
    _check_projection_dim(spec, parsed.get("dim"), shape)
    try:
        entry.check_shape(tuple(shape))
    except DataError:
        raise DataError(
            f"features {name} take {entry.accepts}, but the data are {_shape(shape)}: choose features that fit "
            f"({_suggestion(shape)})"
        ) from None
    if entry.weights is not None:
        found = find_weights(entry.weights, options.get("weights"))
        if found is None or not os.path.isfile(found.path):
            entry.load(**{k: v for k, v in options.items() if v is not None})  # raises the loader's one-line error


def check_compatibility(
    info: ModelInfo,
    shape: Shape,
    levels: int,
    features: str,
    feature_options: dict[str, Any] | None = None,
    scorer: ModelInfo | None = None,
    needs_features: bool = True,
) -> str:
    """Check model, scorer, reference and features together; returns the features spec with ``auto`` resolved."""
    check_model_fits_data(info, shape, levels)
    if scorer is not None:
        check_model_fits_data(scorer, shape, levels, role="scoring model")
    resolved = resolve_features(features, shape)
    if needs_features:
        check_features_fit_data(resolved, feature_options or {}, shape, levels)
    return resolved


def _check_projection_dim(spec: str, dim: object, shape: Shape) -> None:
    """pixels:D projects C*H*W values down: a D above that adds nothing and its D x D statistics may not fit memory."""
    values = int(np.prod(shape))
    if isinstance(dim, int) and dim > values:
        raise DataError(
            f"features {spec} project to {dim} dimensions, but the data ({_shape(shape)}) have only {values} pixel "
            f"values: choose pixels or pixels:D with D <= {values}"
        )


def _try_user_extractor(spec: str, options: dict[str, Any], shape: Shape, levels: int) -> None:
    """A user's network is a black box: run it on one blank image of the data's shape."""
    from .features.extract import extract_features
    from .features.registry import get_extractor

    extractor = get_extractor(spec, **options)
    blank = np.zeros((1, *shape), dtype=np.uint8 if levels <= 256 else np.uint16)
    try:
        extract_features(extractor, blank, levels, device="cpu", use_cache=False)
    except GenLoupeError as error:
        raise DataError(f"features {os.path.basename(spec)} cannot take the data ({_shape(shape)}): {error}") from None


def _suggestion(shape: Shape) -> str:
    if shape[0] in (1, 3):
        return "inception-fid, dinov2, pixels or pixels:D"
    return "pixels or pixels:D, or your own extractor file"


def _shape(shape) -> str:
    return "x".join(str(int(s)) for s in shape)

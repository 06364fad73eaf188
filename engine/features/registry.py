"""Names and files to feature extractors: `digits-cnn`, `inception-fid`, `pixels`, or a .pt/.pt2 file."""

from __future__ import annotations

import inspect
import os
from typing import Callable

from ..errors import GenLoupeError
from . import digits_cnn, inception, pixels, user
from .extractor import FeatureExtractor

DEFAULT = digits_cnn.NAME
BUILTIN: dict[str, Callable[..., FeatureExtractor]] = {
    digits_cnn.NAME: digits_cnn.load,
    inception.NAME: inception.load,
    pixels.NAME: pixels.load,
}


def list_extractors() -> list[str]:
    """Built-in extractor names (the default first)."""
    return [DEFAULT] + sorted(name for name in BUILTIN if name != DEFAULT)


def get_extractor(name_or_path: str | os.PathLike = DEFAULT, **options: object) -> FeatureExtractor:
    """A built-in extractor with its options, or a user's TorchScript/.pt2 file (no options).

    Options set to None mean "default", so callers may pass unset CLI flags through:
    digits-cnn(weights=None), inception-fid(weights=None), pixels(dim=None, seed=0).
    """
    options = {key: value for key, value in options.items() if value is not None}
    name = os.fspath(name_or_path)
    factory = BUILTIN.get(name)
    if factory is None:
        if not (name.endswith(user.SUFFIXES) or os.path.exists(name)):
            raise GenLoupeError(
                f"unknown feature extractor {name!r}: use {', '.join(list_extractors())} or a .pt/.pt2 file"
            )
        factory = user.load
        options = {"path": name, **options}
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        accepted = [p for p in inspect.signature(factory).parameters if p != "path"]
        raise GenLoupeError(
            f"feature extractor {name!r} takes options {accepted or 'none'}, got {sorted(options)}"
        ) from None
    return factory(**options)

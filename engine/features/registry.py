"""Names and files to feature extractors: `digits-cnn`, `inception-fid`, `dinov2`, `pixels[:d]`, or a .pt/.pt2 file.

Each built-in has an entry saying what it takes and gives without loading anything (its feature
dimension, the image shapes it accepts, where its weights are), so that a choice can be checked
against the data in well under a second, before any sampling (engine/compatibility.py), and listed
by ``genloupe features``.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Callable

from ..errors import GenLoupeError
from . import digits_cnn, dinov2, inception, pixels, user
from .extractor import FeatureExtractor, any_shape, grey_or_rgb, require_shape
from .weights import WeightsFile

DEFAULT = digits_cnn.NAME
AUTO = "auto"  # the default that follows the data (compatibility.default_features)
PIXELS_NOTE = "pixel-space metrics are a weak proxy for sample quality"


@dataclass(frozen=True)
class Entry:
    """What a built-in extractor is, known without loading it."""

    name: str
    load: Callable[..., FeatureExtractor]
    dim: str  # the feature dimension, in words where it depends on the data
    accepts: str
    check_shape: Callable[[tuple[int, int, int]], None]
    weights: WeightsFile | None = None  # None: nothing to find (shipped, or no weights)
    note: str = ""


ENTRIES: dict[str, Entry] = {
    entry.name: entry for entry in (
        Entry(digits_cnn.NAME, digits_cnn.load, str(digits_cnn.FEATURE_DIM) + f" (+{digits_cnn.CLASSES} logits for IS)",
              "1x8x8 images only (the embedded digits)", require_shape(digits_cnn.NAME, digits_cnn.IMAGE_SHAPE)),
        Entry(inception.NAME, inception.load, f"{inception.FEATURE_DIM} (+{inception.CLASSES} logits for IS)",
              "grey or RGB, any size (resized to 299x299)", grey_or_rgb(inception.NAME), inception.WEIGHTS),
        Entry(dinov2.NAME, dinov2.load, f"{dinov2.FEATURE_DIM} (ViT-L/14 class token)",
              "grey or RGB, any size (resized to 224x224)", grey_or_rgb(dinov2.NAME), dinov2.WEIGHTS),
        Entry(pixels.NAME, pixels.load, "C*H*W, or d with pixels:d (a fixed random projection)",
              "any shape", any_shape, note=PIXELS_NOTE),
    )
}
BUILTIN: dict[str, Callable[..., FeatureExtractor]] = {name: entry.load for name, entry in ENTRIES.items()}


def list_extractors() -> list[str]:
    """Built-in extractor names (the default first)."""
    return [DEFAULT] + sorted(name for name in BUILTIN if name != DEFAULT)


def is_user_file(spec: str | os.PathLike) -> bool:
    """Whether a features spec names a user's extractor file rather than a built-in (or ``auto``)."""
    name = os.fspath(spec)
    return name != AUTO and parse_spec(name, strict=False)[0] not in BUILTIN


def parse_spec(spec: str | os.PathLike, strict: bool = True) -> tuple[str, dict[str, object]]:
    """``pixels:64`` -> ("pixels", {"dim": 64}); a built-in name or a path -> (it, {}).

    ``name:value`` is read only for built-in names, so paths with colons stay paths.
    """
    text = os.fspath(spec)
    name, colon, value = text.partition(":")
    if not colon or name not in BUILTIN or os.path.exists(text):
        return text, {}
    if name != pixels.NAME:
        if strict:
            raise GenLoupeError(f"{text}: only pixels takes a value after ':' (pixels:64 projects to 64 dimensions)")
        return text, {}
    if not value.isdigit() or int(value) < 1:
        if strict:
            raise GenLoupeError(f"{text}: the dimension after 'pixels:' must be a positive integer, e.g. pixels:64")
        return text, {}
    return name, {"dim": int(value)}


def get_extractor(name_or_path: str | os.PathLike = DEFAULT, **options: object) -> FeatureExtractor:
    """A built-in extractor with its options, or a user's TorchScript/.pt2 file (``trust_code`` only).

    Options set to None mean "default", so callers may pass unset CLI flags through:
    digits-cnn(weights=None), inception-fid(weights=None), dinov2(weights=None), pixels(dim=None, seed=0).
    ``pixels:64`` is pixels with dim=64.
    """
    name, from_spec = parse_spec(name_or_path)
    options = {**from_spec, **{key: value for key, value in options.items() if value is not None}}
    factory = BUILTIN.get(name)
    if factory is None:
        if not (name.endswith(user.SUFFIXES) or os.path.exists(name)):
            raise GenLoupeError(
                f"unknown feature extractor {name!r}: use {', '.join(list_extractors())}, pixels:D or a .pt/.pt2 file"
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

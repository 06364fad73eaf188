"""What every feature extractor is: a network on display values in [0, 1] plus what identifies it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import DataError


def any_shape(shape: tuple[int, int, int]) -> None:
    """Input check of extractors that accept every (C, H, W)."""


@dataclass(frozen=True)
class FeatureExtractor:
    """A network mapping float images in [0, 1], (N, C, H, W), to features (N, d).

    ``module`` returns either the features or a tuple (features, logits). ``weights_hash`` and
    ``preprocessing`` identify its output in the feature cache, so they must change whenever the
    numbers could. ``check_shape`` raises :class:`DataError` for an image shape it cannot take.
    """

    name: str
    module: torch.nn.Module
    weights_hash: str
    preprocessing: str
    default_batch_size: int = 256
    check_shape: Callable[[tuple[int, int, int]], None] = field(default=any_shape)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (torch's run to pages), or its type if empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def require_shape(name: str, expected: tuple[int, int, int]) -> Callable[[tuple[int, int, int]], None]:
    """Input check for networks trained on one image shape."""

    def check(shape: tuple[int, int, int]) -> None:
        if tuple(shape) != expected:
            raise DataError(
                f"feature extractor {name!r} takes images of shape {expected}, got {tuple(shape)}; "
                "use --features pixels or inception-fid for other data"
            )

    return check


def grey_or_rgb(name: str) -> Callable[[tuple[int, int, int]], None]:
    """Input check for networks that take 1 or 3 channels at any size (they resize)."""

    def check(shape: tuple[int, int, int]) -> None:
        if shape[0] not in (1, 3):
            raise DataError(f"feature extractor {name!r} takes grey or RGB images (1 or 3 channels), got {shape[0]} channels")

    return check

"""Batched feature extraction with a disk cache: images (int levels) -> Features."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..data.dataset import Dataset
from ..device import is_out_of_memory, resolve_device
from ..errors import DataError, GenLoupeError, ModelError
from ..progress import Progress, null_progress
from . import cache
from .extractor import FeatureExtractor, first_line
from .registry import get_extractor


@dataclass(frozen=True)
class Features:
    """Features (N, d) float32 and class logits (N, k) float32 or None, with what produced them."""

    features: np.ndarray
    logits: np.ndarray | None
    extractor: str
    weights_hash: str
    preprocessing: str
    from_cache: bool = False

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])


@contextlib.contextmanager
def no_tf32() -> Iterator[None]:
    """TF32 off while extracting: with it, CUDA matmuls round to 10 bits and depend on the batch size."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _split_output(name: str, output: object, rows: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Accept ``features`` or ``(features, logits)``; both must be 2-D with one row per image."""
    features, logits = output if isinstance(output, (tuple, list)) and len(output) == 2 else (output, None)
    for what, value in (("features", features), ("logits", logits)):
        if what == "logits" and value is None:
            continue
        if not isinstance(value, torch.Tensor) or value.ndim != 2 or value.shape[0] != rows:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ModelError(f"feature extractor {name!r} must return {what} of shape ({rows}, d), got {shape}")
    if not bool(torch.isfinite(features).all()):
        raise ModelError(f"feature extractor {name!r} returned NaN or infinite features")
    return features, logits


def _forward(
    extractor: FeatureExtractor, batch: np.ndarray, levels: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.from_numpy(batch.astype(np.float32)).to(device) / (levels - 1)
    try:
        output = extractor.module(x)
    except Exception as error:
        if is_out_of_memory(error):
            raise
        raise ModelError(
            f"feature extractor {extractor.name!r} failed on a batch of shape {tuple(x.shape)}: {first_line(error)}"
        ) from None
    return _split_output(extractor.name, output, len(batch))


def _run(extractor: FeatureExtractor, images: np.ndarray, levels: int, device: torch.device,
         batch_size: int, progress: Progress) -> tuple[np.ndarray, np.ndarray | None]:
    """Forward in batches, halving the batch on out-of-memory; results do not depend on the batch size."""
    n = len(images)
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    start = 0
    stage = f"features ({extractor.name})"
    progress.update(0, n, stage)
    while start < n:
        progress.check()
        stop = min(start + batch_size, n)
        try:
            batch_features, batch_logits = _forward(extractor, images[start:stop], levels, device)
        except Exception as error:  # _forward turns everything but out-of-memory into ModelError
            if not is_out_of_memory(error):
                raise
            if batch_size == 1:
                raise GenLoupeError(f"feature extraction ran out of memory on {device} at batch size 1") from None
            batch_size //= 2
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        if features is None:
            features = np.empty((n, batch_features.shape[1]), dtype=np.float32)
            if batch_logits is not None:
                logits = np.empty((n, batch_logits.shape[1]), dtype=np.float32)
        features[start:stop] = batch_features.float().cpu().numpy()
        if logits is not None:
            logits[start:stop] = batch_logits.float().cpu().numpy()
        start = stop
        progress.update(start, n, stage)
    assert features is not None
    return features, logits


def extract_features(
    extractor: FeatureExtractor | str | os.PathLike,
    images: np.ndarray,
    levels: int,
    *,
    device: str | torch.device = "auto",
    batch_size: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Features:
    """Features of int images (N, C, H, W) on ``levels`` levels; the network sees x/(L-1).

    ``extractor`` is a :class:`FeatureExtractor` or a name/path for :func:`get_extractor`.
    Results are cached in ``cache_dir`` (default: :func:`cache.default_cache_dir`) under the data
    content hash, extractor name, weights hash and preprocessing; a hit never runs the network.
    The device and batch size are not part of the key: the batch size does not change the numbers
    (TF32 is off), and CPU and GPU features agree to float32 rounding.
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = get_extractor(extractor)
    progress = progress or null_progress()
    data = Dataset(name="images", images=np.asarray(images), levels=int(levels))
    if len(data) == 0:
        raise DataError("no images to extract features from")
    extractor.check_shape(data.shape)
    if batch_size is not None and batch_size < 1:
        raise GenLoupeError(f"batch size must be at least 1, got {batch_size}")

    key = cache.cache_key(data.checksum(), extractor.name, extractor.weights_hash, extractor.preprocessing)
    directory = Path(cache_dir) if cache_dir is not None else cache.default_cache_dir()
    found = cache.load(directory, key) if use_cache else None
    if found is not None:
        progress.update(len(data), len(data), f"features ({extractor.name}, cached)")
        return Features(found[0], found[1], extractor.name, extractor.weights_hash, extractor.preprocessing, True)

    torch_device = resolve_device(device)
    extractor.module.to(torch_device)
    with no_tf32(), torch.inference_mode():
        features, logits = _run(extractor, data.images, data.levels, torch_device,
                                batch_size or extractor.default_batch_size, progress)
    if use_cache:
        meta = {"extractor": extractor.name, "weights_hash": extractor.weights_hash,
                "preprocessing": extractor.preprocessing, "images": list(data.images.shape), "levels": data.levels}
        cache.store(directory, key, features, logits, meta)
    return Features(features, logits, extractor.name, extractor.weights_hash, extractor.preprocessing)

"""Sample bundles: samples drawn elsewhere (a diffusion model on a cluster), with what is known of them.

- ``.npz`` with ``samples`` ((N, H, W), (N, C, H, W) or (N, H, W, C); integer levels, or floats in
  [0, 1]), optionally ``levels``, ``labels`` (N,), and ``log_prob`` (N,) with ``log_prob_convention``,
  a JSON text saying what the numbers are (see :func:`to_log_px`);
- an image folder (PNG/JPEG, read as GenLoupe reads data folders), optionally with ``log_prob.csv``
  (columns ``file,log_prob``) and ``log_prob_convention.json`` beside it.

There is no model behind the samples: ``log_prob`` of new images is unavailable (kind 'none'), the
stored log-likelihoods come converted to GenLoupe's convention in :attr:`SampleBundle.stored`.
"""

from __future__ import annotations

import csv
import itertools
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import io as bounded
from ..data.arrays import to_nchw
from ..data.checks import fit_levels
from ..data.images import IMAGE_SUFFIXES, read_image_folder
from ..errors import CheckpointError, ModelError
from ..models.base import ModelInfo
from .safety import one_line, open_zip, parse_json

KEYS = {"samples", "levels", "labels", "log_prob", "log_prob_convention"}
CSV_NAME, CONVENTION_NAME = "log_prob.csv", "log_prob_convention.json"
UNITS, SPACES, KINDS = ("nats", "bits/dim"), ("discrete", "continuous"), ("exact", "lower_bound")


@dataclass(frozen=True)
class StoredSamples:
    images: np.ndarray  # (N, C, H, W) integer levels
    levels: int
    log_px: np.ndarray | None  # (N,) float64 nats of the discrete image (GenLoupe's convention)
    convention: dict[str, Any] | None  # as declared, with a one-line description
    labels: np.ndarray | None
    ids: np.ndarray | None


def to_log_px(values: np.ndarray, convention: Any, dims: int, levels: int, what: str) -> tuple[np.ndarray, dict]:
    """Stored log-likelihoods to log P(x) of the discrete image, in nats.

    ``{"unit": "nats" | "bits/dim", "space": "discrete" | "continuous", "range": [lo, hi],
    "kind": "exact" | "lower_bound", "estimator": "...", "k": K}``. Bits/dim are read on the
    discrete scale (as reported: dequantization offset included). Nats in the continuous space are
    a density of data scaled to ``range`` (default [0, 1]): log P(x) >= log p + D ln(hi - lo) - D ln L.
    """
    if not isinstance(convention, dict) or convention.get("unit") not in UNITS \
            or convention.get("space", "discrete") not in SPACES or convention.get("kind", "exact") not in KINDS:
        raise CheckpointError(f"{what}: log_prob_convention needs unit ({', '.join(UNITS)}), space "
                              f"({', '.join(SPACES)}) and kind ({', '.join(KINDS)}); got {bounded.describe(convention)}")
    check_range(convention, what)
    values = values.astype(np.float64)
    if convention["unit"] == "bits/dim":
        log_px = -values * dims * math.log(2.0)
    elif convention.get("space", "discrete") == "discrete":
        log_px = values
    else:
        low, high = convention.get("range", [0.0, 1.0])
        log_px = values + dims * (math.log(high - low) - math.log(levels))
    continuous = convention.get("space") == "continuous" and convention["unit"] == "nats"
    kind = "lower_bound" if continuous else convention.get("kind", "exact")
    description = f"stored log-likelihoods ({convention['unit']}, {convention.get('space', 'discrete')}), {kind}"
    return log_px, {**convention, "kind": kind, "description": description}


class SampleBundle(nn.Module):
    """Stored samples as a protocol model: sample() draws from them, log_prob() is unavailable."""

    def __init__(self, name: str, stored: StoredSamples, format_name: str) -> None:
        super().__init__()
        self.stored = stored
        self.parameter_count = None  # no model behind the samples
        compact = np.uint8 if stored.levels <= 256 else np.int32  # torch has little support for uint16
        self.register_buffer("levels_", torch.from_numpy(stored.images.astype(compact)), persistent=False)
        shape = tuple(int(s) for s in stored.images.shape[1:])
        self.info = ModelInfo(name=name, family="samples", data_shape=shape, levels=stored.levels, likelihood="none",
                              discrete=False, extra={"format": format_name, "stored_samples": len(stored.images),
                                                     "stored_log_px": stored.log_px is not None,
                                                     "convention": stored.convention})

    @property
    def device(self) -> torch.device:
        return self.levels_.device

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n distinct stored samples: the first n without a generator, else a random choice by it.

        A sample bundle is the empirical distribution of its samples, so seeded draws are draws
        from that. Code that wants the samples themselves, in order, reads :attr:`stored`.
        """
        count = len(self.levels_)
        if n > count:
            raise ModelError(f"{self.info.name} holds {count} samples; {n} were asked for")
        if generator is None:
            chosen = self.levels_[:n]
        else:
            order = torch.randperm(count, generator=generator, device=generator.device)[:n]
            chosen = self.levels_[order.to(self.levels_.device)]
        return chosen.to(torch.float32) / (self.stored.levels - 1)

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        raise ModelError(f"{self.info.name} is a sample bundle: there is no model to score new images "
                         "(its own samples' log-likelihoods are in its stored values)")


def _npy_headers(archive: zipfile.ZipFile, what: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array, read from the .npy headers and checked against the read limits."""
    return bounded.npz_headers(archive, what, CheckpointError)


def _images(samples: np.ndarray, levels: int | None, what: str) -> tuple[np.ndarray, int]:
    if samples.dtype.kind == "f":
        if not np.isfinite(samples).all() or samples.min() < 0.0 or samples.max() > 1.0:
            raise CheckpointError(f"{what}: float samples must be finite values in [0, 1]")
        levels = levels or float_levels(samples, what)
        samples = np.round(samples * (levels - 1)).astype(np.int64)
    return fit_levels(to_nchw(samples, what), what, levels)


GRIDS = (2, 17, 256)  # the grids float samples are recognised on: binarized, the digits, 8-bit
LEVELS_NAME = "levels.json"  # beside an image folder: {"levels": L, "encoding": "scaled" | "levels"}


def _on_grid(values: np.ndarray, levels: int, scale: float) -> bool:
    """Whether every value is a grid point k/(L-1) (floats, scale 1) or round(k * 255/(L-1)) (8-bit files)."""
    k = np.round(values.astype(np.float64) * (levels - 1) / scale)
    if scale == 1.0:
        return bool(np.all(np.abs(values * (levels - 1) - k) <= 1e-4 * (levels - 1)))  # float error only
    return bool(np.all(np.round(k * scale / (levels - 1)) == values))


def _grid_of(values: np.ndarray, scale: float) -> int | None:
    """The smallest of GRIDS holding every value (see :func:`_on_grid`), if any."""
    return next((levels for levels in GRIDS if _on_grid(values, levels, scale)), None)


def float_levels(samples: np.ndarray, what: str) -> int:
    """Float samples without a declared ``levels``: the grid they lie on, never a guessed 256."""
    levels = _grid_of(samples, 1.0)
    if levels is None:
        raise CheckpointError(f"{what}: float samples that lie on no grid of 2, 17 or 256 levels; declare the levels of "
                              "the data the model learnt: add levels=L to the .npz (17 for the digits, 256 for 8-bit)")
    return levels


def declared_image_levels(folder: Path, images: np.ndarray) -> tuple[np.ndarray, int]:
    """An image folder's levels: from levels.json beside the images, else 256 unless the pixels say otherwise.

    ``encoding`` says how a level x is stored in an 8-bit file: ``scaled`` (round(x * 255 / (L-1)), what
    saving a display image writes) or ``levels`` (x itself); by default ``scaled`` when a value exceeds L-1.
    """
    what = f"{folder.name}/{LEVELS_NAME}"
    file = folder / LEVELS_NAME
    if not file.is_file():  # a coarser grid is evidence only when more than black and white are used
        levels = _grid_of(images, 255.0) if len(np.unique(images)) > 2 else None
        if levels is not None and levels < 256:
            raise CheckpointError(f"{folder.name}: the images use only the values of a {levels}-level grid scaled to "
                                  f"0..255; say their levels in {LEVELS_NAME} beside them: {{\"levels\": {levels}}} "
                                  "(or {\"levels\": 256} to read them as 8-bit)")
        return images, 256
    declared = parse_json(file.read_bytes(), what)
    levels = declared.get("levels") if isinstance(declared, dict) else None
    if not isinstance(levels, int) or isinstance(levels, bool) or not 2 <= levels <= 256:
        raise CheckpointError(f"{what}: needs {{\"levels\": L}} with L an integer in 2..256, got {declared!r}")
    high = int(images.max())
    encoding = declared.get("encoding", "scaled" if high > levels - 1 else "levels")
    if encoding == "levels":
        if high > levels - 1:
            raise CheckpointError(f"{what}: pixel values reach {high}, above the {levels} levels 0..{levels - 1} it "
                                  "declares with encoding 'levels'; use encoding 'scaled' if they are x * 255 / (L-1)")
        return images, levels
    if encoding != "scaled":
        raise CheckpointError(f"{what}: encoding must be 'scaled' or 'levels', got {encoding!r}")
    x = np.round(images.astype(np.float64) * (levels - 1) / 255.0)
    off = np.round(x * 255.0 / (levels - 1)) != images
    if off.any():
        raise CheckpointError(f"{what}: pixel value {int(images[off][0])} is not on the {levels}-level grid scaled to "
                              f"0..255 (round(x * 255 / {levels - 1})); write encoding 'levels' if the files hold the "
                              "levels themselves, or declare the right levels")
    return x.astype(np.uint8), levels


def load_npz(path: Path) -> SampleBundle:
    what = path.name
    archive = open_zip(path, what)
    headers = _npy_headers(archive, what)
    unknown = sorted(set(headers) - KEYS)
    if unknown or "samples" not in headers:
        optional = ", ".join(sorted(KEYS - {"samples"}))
        raise CheckpointError(f"{what}: a sample bundle holds samples and optionally {optional}; "
                              f"found {', '.join(sorted(headers))}")
    data = bounded.load_npz(path, what, CheckpointError)
    if "levels" in data and (data["levels"].ndim != 0 or data["levels"].dtype.kind not in "ui"):
        raise CheckpointError(f"{what}: levels must be one integer, got {data['levels'].dtype} "
                              f"of shape {data['levels'].shape}")
    levels = int(data["levels"]) if "levels" in data else None
    images, levels = _images(data["samples"], levels, what)
    n = len(images)
    for key in ("labels", "log_prob"):
        if key in data and data[key].shape != (n,):
            raise CheckpointError(f"{what}: {key} has shape {data[key].shape} for {n} samples; expected ({n},)")
    log_px, convention = None, None
    if "log_prob" in data:
        if "log_prob_convention" not in data:
            raise CheckpointError(f"{what}: log_prob without log_prob_convention "
                                  "(say its unit and space; see the README)")
        bad = int((~np.isfinite(data["log_prob"])).sum())
        if bad:
            raise CheckpointError(f"{what}: log_prob holds {bad} NaN or infinite values")
        declared = parse_json(str(data["log_prob_convention"]).encode(), f"{what}: log_prob_convention")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported by check_log_px
            log_px, convention = to_log_px(data["log_prob"], declared, int(np.prod(images.shape[1:])), levels, what)
        check_log_px(log_px, what)
    labels = data["labels"].astype(np.int64) if "labels" in data else None
    stored = StoredSamples(images, levels, log_px, convention, labels, np.arange(n))
    return SampleBundle(path.stem, stored, "sample bundle (.npz)")


def is_image_folder(path: Path) -> bool:
    """Images in the folder, or in its subfolders (one per class, as data folders are read)."""
    def has_images(folder: Path) -> bool:
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())

    return has_images(path) or any(has_images(p) for p in path.iterdir() if p.is_dir())


def load_image_folder(path: Path) -> SampleBundle:
    check_links(path)
    dataset = read_image_folder(path, None)
    images, levels = declared_image_levels(path, dataset.images)
    log_px, convention = None, None
    table = path / CSV_NAME
    if table.is_file():
        if not (path / CONVENTION_NAME).is_file():
            raise CheckpointError(f"{path.name}: {CSV_NAME} without {CONVENTION_NAME} (say its unit and space)")
        values = _csv_values(table, [str(i) for i in dataset.ids])
        what = f"{path.name}/{CONVENTION_NAME}"
        declared = parse_json(bounded.read_bounded(path / CONVENTION_NAME, what, bounded.limits().metadata_bytes,
                                                   CheckpointError), what)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported by check_log_px
            log_px, convention = to_log_px(values, declared, dataset.dims, levels, f"{path.name}/{CSV_NAME}")
        check_log_px(log_px, f"{path.name}/{CSV_NAME}")
    stored = StoredSamples(images, levels, log_px, convention, dataset.labels, dataset.ids)
    return SampleBundle(path.name, stored, "sample bundle (image folder)")


def _csv_values(table: Path, files: list[str]) -> np.ndarray:
    """One finite log_prob per image file, matched by file name."""
    what = f"{table.parent.name}/{table.name}"
    try:
        with open(table, newline="", encoding="utf-8") as stream:
            rows = list(itertools.islice(csv.DictReader(stream), min(len(files), bounded.limits().csv_rows) + 1))
        values = {row["file"]: float(row["log_prob"]) for row in rows}
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error) as error:
        raise CheckpointError(f"{what}: needs columns file,log_prob with one number per row "
                              f"({one_line(error)})") from None
    missing = [f for f in files if f not in values]
    if missing or len(values) != len(files):
        raise CheckpointError(f"{what}: {len(values)} rows for {len(files)} images"
                              + (f" (no row for {missing[0]})" if missing else ""))
    result = np.array([values[f] for f in files])
    if not np.isfinite(result).all():
        raise CheckpointError(f"{what}: holds NaN or infinite values")
    return result


def check_range(convention: dict[str, Any], what: str) -> None:
    """A declared ``range`` is two finite numbers, low below high (``[NaN, 1]`` or ``[0, Infinity]`` mean nothing)."""
    if "range" not in convention:
        return
    value = convention["range"]
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            and value[0] < value[1]):
        raise CheckpointError(f"{what}: log_prob_convention range must be two finite numbers [low, high] with "
                              f"low < high; got {bounded.describe(value)}")


def check_log_px(log_px: np.ndarray, what: str) -> None:
    """Converted log P(x) must be finite and at most 0: a discrete image's probability is at most 1."""
    if not np.isfinite(log_px).all():
        raise CheckpointError(f"{what}: stored log-likelihoods overflow when converted to log P(x) "
                              "(values too large for their unit?)")
    worst = float(log_px.max()) if len(log_px) else 0.0
    if worst > 1e-6:
        raise CheckpointError(f"{what}: stored log-likelihoods give log P(x) = {worst:.6g} > 0 nats, impossible for "
                              "a discrete image (is the unit, space or sign wrong?)")


def check_links(folder: Path) -> None:
    """Refuse links that lead out of a bundle folder: what is loaded must be what the folder holds."""
    root = folder.resolve()
    for entry in folder.rglob("*"):
        if entry.is_symlink() and not entry.resolve().is_relative_to(root):
            raise CheckpointError(f"{folder.name}: {entry.relative_to(folder).as_posix()} is a link leading out of "
                                  "the bundle folder; copy the file in instead")

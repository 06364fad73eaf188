"""A folder of PNG/JPEG images (8-bit grey 'L' or 'RGB', all one size and mode), on 256 levels.

Images directly in the folder are read unlabelled. A folder holding none directly but some in
its subfolders is read as one class per subfolder: labels are the subfolders' sorted order and
ids the relative paths. Files are sorted by name, so the order (and every split) is stable.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .. import io as bounded
from ..errors import DataError
from .checks import fit_levels
from .dataset import Dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = ("L", "RGB")
IMAGE_LEVELS = 256


def _is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _image_files(folder: Path) -> tuple[list[Path], np.ndarray | None]:
    """The folder's images in a stable order, and their class labels when they sit in subfolders."""
    direct = _images_in(folder)
    if direct:
        return direct, None
    subfolders = sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))
    classes = [members for members in (_images_in(subfolder) for subfolder in subfolders) if members]
    files = [path for members in classes for path in members]
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(members) for members in classes])
    return files, (labels if files else None)


def _images_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if _is_image_file(path))


def read_image_folder(folder: Path, levels: int | None) -> Dataset:
    files, labels = _image_files(folder)
    if not files:
        raise DataError(f"{folder}: no PNG/JPEG images or CIFAR-10 batches in this folder")
    # a folder of real images may hold as many pixels as its files' bytes imply (bombs: a few huge, tiny files)
    cap = bounded.array_allowance(sum(path.stat().st_size for path in files), compressed=True,
                                  floor=bounded.limits().folder_pixels)
    first, mode = _load(files[0], None, len(files), cap)
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    images[0] = first
    for index, path in enumerate(files[1:], start=1):
        images[index] = _load(path, (files[0].name, mode, first.shape), len(files), cap)[0]
    images, levels = fit_levels(images, str(folder), IMAGE_LEVELS if levels is None else levels)
    return Dataset(
        name=folder.name,
        images=images,
        levels=levels,
        labels=labels,
        source=str(folder),
        ids=np.asarray([path.relative_to(folder).as_posix() for path in files]),
        format="image-folder",
    )


def _load(path: Path, like: tuple[str, str, tuple[int, ...]] | None, count: int, cap: int) -> tuple[np.ndarray, str]:
    """One image as (C, H, W) uint8 and its mode; damaged or unsupported files raise DataError.

    Its mode and size are read from its header and checked (``count`` images of its size against the
    folder's pixel ``cap``, and against the first image ``like`` names) before any pixel is decoded.
    """
    from PIL import Image  # Pillow is needed only by this source

    try:
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the caps below decide
            mode, (width, height) = image.mode, image.size
            if mode not in MODES:
                raise DataError(f"{path}: image mode {mode} is not supported; convert it to 8-bit grey (L) or RGB")
            channels = 1 if mode == "L" else 3
            if like is not None and mode != like[1]:
                raise DataError(f"{path}: mode {mode}, but {like[0]} is {like[1]}: all images must share one mode")
            if like is not None and (channels, height, width) != like[2]:
                raise DataError(f"{path}: {width}x{height} pixels, but {like[0]} is {like[2][2]}x{like[2][1]}: "
                                "all images must share one size")
            if count * width * height * channels > cap:
                raise DataError(f"{path.parent}: {count} images of {width}x{height} pixels ({channels} channels) make "
                                f"{count * width * height * channels} pixel values (at most {cap} in one folder)")
            image.load()
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: corrupt or unreadable image ({bounded.one_line(error)})") from None
    return (pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)), mode

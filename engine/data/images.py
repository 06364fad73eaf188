"""A folder of PNG/JPEG images (8-bit grey 'L' or 'RGB', all one size and mode), on 256 levels.

Images directly in the folder are read unlabelled. A folder holding none directly but some in
its subfolders is read as one class per subfolder: labels are the subfolders' sorted order and
ids the relative paths. Files are sorted by name, so the order (and every split) is stable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .checks import fit_levels, one_line
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
    first, mode = _load(files[0])
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    images[0] = first
    for index, path in enumerate(files[1:], start=1):
        pixels, path_mode = _load(path)
        if path_mode != mode:
            raise DataError(f"{path}: mode {path_mode}, but {files[0].name} is {mode}: all images must share one mode")
        if pixels.shape != first.shape:
            raise DataError(
                f"{path}: {_size(pixels)} pixels, but {files[0].name} is {_size(first)}: all images must share one size"
            )
        images[index] = pixels
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


def _load(path: Path) -> tuple[np.ndarray, str]:
    """One image as (C, H, W) uint8 and its mode; damaged or unsupported files raise DataError."""
    from PIL import Image  # Pillow is needed only by this source

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: corrupt or unreadable image ({one_line(error)})") from None
    if mode not in MODES:
        raise DataError(f"{path}: image mode {mode} is not supported; convert it to 8-bit grey (L) or RGB")
    return (pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)), mode


def _size(pixels: np.ndarray) -> str:
    return f"{pixels.shape[2]}x{pixels.shape[1]}"

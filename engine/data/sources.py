"""``open_data``: one entry point that picks the reader by what the path is and holds.

Rules, in order: None or the string "digits" is the embedded digits set (write "./digits" for a
folder of that name); a folder holding data_batch_N.bin / test_batch.bin is CIFAR-10, any other
folder an image folder; a file goes by its suffix (.npy, .npz, .bin for a CIFAR-10 batch), then
IDX by name (idx, ubyte) or by its first bytes. Anything else is an unknown format.
Right after "digits", the names "digits28" and "digits32rgb" are the shipped stand-ins at real shapes.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from .arrays import read_npy, read_npz
from .checks import check_levels
from .cifar import batch_files, read_cifar, read_cifar_file
from .dataset import Dataset
from .digits import read_digits
from .idx import looks_like_idx, read_idx
from .images import read_image_folder
from .standins import STANDINS, read_standin

DIGITS = "digits"
SUFFIX_READERS = {
    ".npy": read_npy,
    ".npz": read_npz,
    ".bin": read_cifar_file,
}


def open_data(source: str | os.PathLike | None = None, *, levels: int | None = None) -> Dataset:
    """Open a data source as a Dataset; ``levels`` overrides the source's own (values must fit below it)."""
    check_levels(levels)
    if source is None or source == DIGITS:
        return read_digits(levels)
    if source in STANDINS:
        return read_standin(str(source), levels)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        batches = batch_files(path)
        return read_cifar(batches, levels, path) if batches else read_image_folder(path, levels)
    reader = SUFFIX_READERS.get(path.suffix.lower())
    if reader is not None:
        return reader(path, levels)
    if looks_like_idx(path):
        return read_idx(path, levels)
    raise DataError(
        f"{path}: unknown data format (expected a folder of PNG/JPEG images, .npy/.npz arrays, "
        "MNIST IDX files or CIFAR-10 .bin batches)"
    )

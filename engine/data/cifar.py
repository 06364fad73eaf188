"""CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32).

A single .bin file is read as is. A folder in the cifar-10-batches-bin layout gives its training
set, data_batch_1.bin .. data_batch_N.bin in numeric order (the official test set stays out of
it; open test_batch.bin itself for that); a folder holding only test_batch.bin gives that.
Everything is one np.frombuffer reshape per file: no per-image loop.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import io as bounded
from ..errors import DataError
from .checks import fit_levels
from .dataset import Dataset

SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32
CLASSES = 10
CIFAR_LEVELS = 256
DATA_BATCH = re.compile(r"data_batch_(\d+)\.bin")
TEST_BATCH = "test_batch.bin"


def batch_files(folder: Path) -> list[Path]:
    """The training batches of a cifar-10-batches-bin folder in numeric order, else its test batch."""
    numbered = {path: DATA_BATCH.fullmatch(path.name) for path in folder.iterdir() if path.is_file()}
    data = sorted((path for path, match in numbered.items() if match), key=lambda path: int(numbered[path][1]))
    test = folder / TEST_BATCH
    return data or ([test] if test.is_file() else [])


def read_cifar_file(path: Path, levels: int | None) -> Dataset:
    return read_cifar([path], levels, path)


def read_cifar(files: list[Path], levels: int | None, source: Path) -> Dataset:
    cap = bounded.limits().array_bytes
    total = sum(path.stat().st_size for path in files)
    if total > cap:
        raise DataError(f"{source}: {total} bytes of CIFAR-10 batches (at most {cap} allowed)")
    batches = [_records(path) for path in files]
    pixels = np.empty((sum(len(batch) for batch in batches), RECORD - 1), dtype=np.uint8)
    labels = np.empty(len(pixels), dtype=np.int64)
    start = 0
    for batch in batches:  # one block copy per file straight into place
        pixels[start : start + len(batch)] = batch[:, 1:]
        labels[start : start + len(batch)] = batch[:, 0]
        start += len(batch)
    images, levels = fit_levels(pixels.reshape(-1, *SHAPE), str(source), CIFAR_LEVELS if levels is None else levels)
    return Dataset(
        name=source.name,
        images=images,
        levels=levels,
        labels=labels,
        source=str(source),
        ids=np.arange(len(images)),
        format="cifar10",
    )


def _records(path: Path) -> np.ndarray:
    raw = bounded.read_bounded(path, str(path), bounded.limits().array_bytes, DataError)
    if not raw or len(raw) % RECORD:
        raise DataError(
            f"{path}: {len(raw)} bytes is not a whole number of CIFAR-10 records "
            f"(1 label byte + 3072 pixel bytes = {RECORD} bytes each)"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    bad = np.flatnonzero(records[:, 0] >= CLASSES)
    if len(bad):
        raise DataError(
            f"{path}: label byte {records[bad[0], 0]} of record {bad[0]} is not a CIFAR-10 class (0..{CLASSES - 1})"
        )
    return records

"""MNIST / Fashion-MNIST IDX files, gzipped or not, read whole with np.frombuffer (no per-image loop).

The header is read first and the bytes it declares are checked against the read limits; only then
is the body read (or inflated), never past the size the header declares.

The images file (magic 2051: unsigned bytes, 3 dimensions N, H, W) gives (N, 1, H, W) on 256
levels. Its labels file (magic 2049) is picked up when it lies next to it under the usual name:
"images" -> "labels" and "idx3" -> "idx1", with or without ".gz"
(train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz, t10k-images.idx3-ubyte -> t10k-labels.idx1-ubyte).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .. import io as bounded
from ..errors import DataError
from .checks import fit_levels
from .dataset import Dataset

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
GZIP_MAGIC = b"\x1f\x8b"
KINDS = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
IDX_LEVELS = 256


def looks_like_idx(path: Path) -> bool:
    """By name (idx/ubyte), else by the first bytes: 0, 0, then the unsigned-byte type code 0x08."""
    name = path.name.lower()
    if "idx" in name or "ubyte" in name:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        if head[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as handle:
                head = handle.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) == 4 and head[:3] == b"\x00\x00\x08"


def read_idx(path: Path, levels: int | None) -> Dataset:
    raw = _read_bytes(path, IMAGES_MAGIC, 3)
    count, height, width = _header(path, raw, IMAGES_MAGIC, 3)
    pixels = _body(path, raw, 16, count * height * width, f"{count} images of {height}x{width}")
    images, levels = fit_levels(
        pixels.reshape(count, 1, height, width), str(path), IDX_LEVELS if levels is None else levels
    )
    return Dataset(
        name=path.name,
        images=images,
        levels=levels,
        labels=_matching_labels(path, count),
        source=str(path),
        ids=np.arange(count),
        format="idx",
    )


def labels_path(images_path: Path) -> Path | None:
    """The labels file lying next to an images file under the usual MNIST naming, if any."""
    name = images_path.name
    if "images" not in name:
        return None
    stem = name.replace("images", "labels").replace("idx3", "idx1").removesuffix(".gz")
    for candidate in (stem, stem + ".gz"):
        path = images_path.with_name(candidate)
        if path.is_file():
            return path
    return None


def _matching_labels(images_path: Path, count: int) -> np.ndarray | None:
    path = labels_path(images_path)
    if path is None:
        return None
    raw = _read_bytes(path, LABELS_MAGIC, 1)
    (found,) = _header(path, raw, LABELS_MAGIC, 1)
    if found != count:
        raise DataError(f"{path}: {found} labels for the {count} images of {images_path.name}")
    return _body(path, raw, 8, count, f"{count} labels").astype(np.int64)


def _read_bytes(path: Path, magic: int, ndim: int) -> bytes:
    """The file's bytes (inflated if gzipped), read only up to what its header declares, plus one byte
    so that trailing bytes are still noticed: a gzip bomb is never inflated past its declared size."""
    size = 4 + 4 * ndim
    try:
        gzipped = bounded.is_gzip(path)
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    read = (lambda n: bounded.gunzip(path, str(path), n, DataError, prefix=True)) if gzipped else \
        (lambda n: _prefix(path, n))
    dims = _header(path, read(size), magic, ndim)
    needed = size + bounded.declared_bytes(list(dims), 1, str(path), DataError)
    if not gzipped and path.stat().st_size > needed:  # plain files: trailing bytes are counted from the size
        return read(path.stat().st_size) if path.stat().st_size <= needed + (1 << 20) else read(needed + 1)
    return read(needed + 1)


def _prefix(path: Path, count: int) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(count)
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None


def _header(path: Path, raw: bytes, magic: int, ndim: int) -> tuple[int, ...]:
    size = 4 + 4 * ndim
    found = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else magic
    if found != magic:
        hint = f" (that is an IDX {KINDS[found]} file)" if found in KINDS else ""
        raise DataError(f"{path}: wrong magic number {found}, expected {magic} for IDX {KINDS[magic]}{hint}")
    if len(raw) < size:
        raise DataError(f"{path}: truncated IDX file: {len(raw)} bytes, shorter than its {size}-byte header")
    return struct.unpack(f">{ndim}I", raw[4:size])


def _body(path: Path, raw: bytes, offset: int, expected: int, what: str) -> np.ndarray:
    found = len(raw) - offset
    if found < expected:
        raise DataError(f"{path}: truncated IDX file: {what} need {expected} bytes, found {found}")
    if found > expected:
        raise DataError(f"{path}: {found - expected} unexpected bytes after {what}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).copy()

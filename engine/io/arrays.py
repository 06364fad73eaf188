"""NumPy files read only after their headers: the memory a declared shape and dtype imply is checked first.

A 1.5 MB .npz can declare a 7 GB array, and a .npy header can declare 10^12 elements; both are
refused from their headers, and an array that declares more bytes than its file holds is refused
too, so nothing is allocated for data that is not there.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any, Callable, Iterable

import numpy as np

from ..errors import GenLoupeError
from .archives import open_zip
from .limits import limits, physical_memory
from .text import describe, one_line

Header = tuple[tuple[int, ...], np.dtype]


def array_allowance(stored: int, compressed: bool, floor: int | None = None) -> int:
    """Bytes the arrays of a file storing ``stored`` bytes may imply: real evaluation sets are as big as their files.

    Raw (uncompressed) data are allowed their own size, compressed data ``array_ratio`` times it, never less than
    ``floor`` (default ``array_bytes``) and never more than ``memory_share`` of the machine's memory. A small file
    declaring a huge array (a bomb) stays refused: what it may imply grows only with the bytes it really holds.
    """
    caps = limits()
    floor = caps.array_bytes if floor is None else floor
    allowed = max(floor, stored * (caps.array_ratio if compressed else 1))
    memory = physical_memory()
    return allowed if memory is None else min(allowed, max(floor, int(memory * caps.memory_share)))


def declared_bytes(shape: Any, dtype: np.dtype | int, what: str, error: type[GenLoupeError] = GenLoupeError,
                   limit: int | None = None) -> int:
    """Bytes that ``shape`` of ``dtype`` (or of that many bytes per item) implies; refused above ``limit``."""
    limit = limits().array_bytes if limit is None else limit
    if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise error(f"{what}: shape must be a list of integers, got {describe(shape)}")
    if any(s < 0 for s in shape):
        raise error(f"{what}: shape {list(shape)} has a negative dimension")
    itemsize = dtype if isinstance(dtype, int) else np.dtype(dtype).itemsize
    size = math.prod(shape) * itemsize
    if size > limit:
        raise error(f"{what}: declared shape {list(shape)} implies {size} bytes (at most {limit} allowed)")
    return size


def read_header(stream: IO[bytes], what: str, error: type[GenLoupeError] = GenLoupeError) -> Header:
    """Shape and dtype from a .npy header (any version); object arrays are refused."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown .npy format version {version}")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as problem:
        raise error(f"{what}: not a readable .npy array (malformed header: {one_line(problem)})") from None
    if dtype.hasobject:
        raise error(f"{what}: not a readable .npy array (it holds Python objects; only numeric arrays are read)")
    return tuple(shape), dtype


def load_npy(path: Path, what: str, error: type[GenLoupeError] = GenLoupeError) -> np.ndarray:
    """A .npy array, its header checked against the caps and the file's size before reading."""
    try:
        with open(path, "rb") as stream:
            shape, dtype = read_header(stream, what, error)
            stored = path.stat().st_size - stream.tell()
            need = declared_bytes(shape, dtype, what, error, array_allowance(stored, compressed=False))
            if need > stored:
                raise error(f"{what}: declares shape {list(shape)} of {dtype} but the file is too short")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as problem:
        raise error(f"{what}: not a readable .npy array ({one_line(problem)})") from None


def npz_headers(archive: zipfile.ZipFile, what: str, error: type[GenLoupeError] = GenLoupeError) -> dict[str, Header]:
    """Every member's shape and dtype, checked against the caps and the bytes stored for it."""
    headers: dict[str, Header] = {}
    total = 0
    stored = compressed = 0
    for info in archive.infolist():
        stored += info.compress_size
        compressed += info.compress_type != zipfile.ZIP_STORED
    allowed = array_allowance(stored, compressed=bool(compressed))
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise error(f"{what}: {describe(info.filename)} is not a .npy array")
        key = info.filename[:-4]
        try:
            with archive.open(info) as stream:
                shape, dtype = read_header(stream, f"{what}: array {describe(key)}", error)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as problem:
            raise error(f"{what}: array {describe(key)} cannot be read ({one_line(problem)})") from None
        size = declared_bytes(shape, dtype, f"{what}: array {describe(key)}", error, allowed)
        if size > info.file_size:
            raise error(f"{what}: array {describe(key)} declares shape {list(shape)} but holds only "
                        f"{info.file_size} bytes")
        total += size
        if total > allowed:
            raise error(f"{what}: its arrays imply {total} bytes (at most {allowed} allowed)")
        headers[key] = (shape, dtype)
    return headers


def load_npz(path: Path, what: str, error: type[GenLoupeError] = GenLoupeError,
             select: Callable[[list[str]], Iterable[str]] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a checked .npz: those ``select`` picks from the stored keys (all when None)."""
    with open_zip(path, what, error) as archive:
        headers = npz_headers(archive, what, error)
    wanted = list(headers) if select is None else [key for key in select(list(headers)) if key in headers]
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in wanted}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as problem:
        raise error(f"{what}: not a readable .npz archive ({one_line(problem)})") from None

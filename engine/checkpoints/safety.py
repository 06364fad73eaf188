"""Checks that run before anything from a model file is trusted, allocated or unpickled.

Archives are inspected before any member is read (sizes, member count, names that could escape a
folder), safetensors headers are size-checked before they are parsed, declared shapes are bounded
before anything is allocated, and ``torch.load`` only ever runs with ``weights_only=True``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from ..errors import CheckpointError, UnsafeFileError

MAX_MEMBERS = 4096  # members of one archive
MAX_ARCHIVE_BYTES = 8 << 30  # uncompressed total of one archive
MAX_RATIO = 1000  # uncompressed / compressed size of one member larger than 1 MiB
MAX_METADATA_BYTES = 1 << 20  # meta.json, configs, safetensors headers: JSON read whole into memory
MAX_SAFETENSORS_HEADER = 100 << 20  # safetensors' own limit
MAX_ELEMENTS = 1 << 31  # elements of one declared tensor
MAX_DIM = 1 << 16  # one dimension of a declared image shape

SAFE_ROUTES = (
    "GenLoupe never unpickles code: save the model as an export bundle (`genloupe export`, or torch.export "
    "with a meta.json as the README shows), or open it through an adapter .py with --trust-code"
)


def one_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened: error messages must stay one line."""
    text = str(error).strip().splitlines()[0].strip() if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_member_name(name: str, what: str) -> None:
    """Refuse archive member names that are absolute or climb out of the folder they unpack into."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise UnsafeFileError(f"{what}: archive member {name!r} would be written outside the archive's folder")


def check_zip(archive: zipfile.ZipFile, what: str) -> list[str]:
    """Member count, sizes, compression ratios, links and names of a zip, checked from its directory."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(f"{what}: archive has {len(infos)} members (at most {MAX_MEMBERS} allowed)")
    total = 0
    for info in infos:
        check_member_name(info.filename, what)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeFileError(f"{what}: archive member {info.filename!r} is a symbolic link")
        if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise CheckpointError(
                f"{what}: archive member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}-fold "
                "(a zip bomb?)"
            )
        total += info.file_size
    if total > MAX_ARCHIVE_BYTES:
        raise CheckpointError(f"{what}: archive expands to {total} bytes (at most {MAX_ARCHIVE_BYTES} allowed)")
    return [info.filename for info in infos]


def open_zip(source: Path | bytes, what: str) -> zipfile.ZipFile:
    """A checked zip archive from a path or bytes; CheckpointError if it is not a readable zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(f"{what}: not a readable zip archive ({one_line(error)})") from None
    check_zip(archive, what)
    return archive


def read_member(archive: zipfile.ZipFile, name: str, what: str, limit: int = MAX_ARCHIVE_BYTES) -> bytes:
    """The bytes of one member, never more than ``limit`` whatever its header claims."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise CheckpointError(f"{what}: {name} is {info.file_size} bytes (at most {limit} allowed)")
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{what}: {name} cannot be read ({one_line(error)})") from None
    if len(data) > limit:
        raise CheckpointError(f"{what}: {name} is larger than its archive entry says")
    return data


def parse_json(data: bytes, what: str, limit: int = MAX_METADATA_BYTES) -> Any:
    if len(data) > limit:
        raise CheckpointError(f"{what}: {len(data)} bytes of JSON (at most {limit} allowed)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{what}: not valid JSON ({one_line(error)})") from None


def check_shape(shape: Any, what: str, *, max_elements: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """A declared shape as a tuple of non-negative ints whose product is bounded (nothing allocated yet)."""
    if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise CheckpointError(f"{what}: shape must be a list of integers, got {shape!r}")
    if any(s < 0 for s in shape):
        raise CheckpointError(f"{what}: shape {list(shape)} has a negative dimension")
    if math.prod(shape) > max_elements:
        raise CheckpointError(f"{what}: declared shape {list(shape)} has {math.prod(shape)} elements "
                              f"(at most {max_elements})")
    return tuple(shape)


def check_image_shape(shape: Any, what: str) -> tuple[int, int, int]:
    """A declared (C, H, W) with positive, bounded dimensions."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 3:
        raise CheckpointError(f"{what}: data shape must be [C, H, W], got {shape!r}")
    c, h, w = check_shape(shape, what, max_elements=1 << 26)
    if min(c, h, w) < 1 or max(c, h, w) > MAX_DIM:
        raise CheckpointError(f"{what}: data shape {list(shape)} is out of range (each dimension 1..{MAX_DIM})")
    return c, h, w


SAFETENSORS_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                      "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, after checking its declared size, dtypes, shapes and offsets."""
    what = path.name
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{what}: truncated safetensors file ({size} bytes)")
        length = int.from_bytes(prefix, "little")
        if length > MAX_SAFETENSORS_HEADER or length > size - 8:
            raise CheckpointError(
                f"{what}: safetensors header declares {length} bytes but the file has {size - 8} after the prefix"
            )
        header = parse_json(stream.read(length), f"{what}: safetensors header", MAX_SAFETENSORS_HEADER)
    if not isinstance(header, dict):
        raise CheckpointError(f"{what}: safetensors header is not a JSON object")
    data_size = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise CheckpointError(f"{what}: safetensors metadata must map names to strings")
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{what}: tensor {name!r} has no known dtype")
        shape = check_shape(entry.get("shape"), f"{what}: tensor {name!r}")
        offsets = entry.get("data_offsets")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckpointError(f"{what}: tensor {name!r} has malformed data offsets")
        start, end = offsets
        if not 0 <= start <= end <= data_size or end - start != math.prod(shape) * SAFETENSORS_DTYPES[entry["dtype"]]:
            raise CheckpointError(
                f"{what}: tensor {name!r} declares shape {list(shape)} at bytes {start}..{end}, "
                f"which does not fit the {data_size} data bytes"
            )
    return header


def load_weights_only(source: Path | bytes, what: str) -> Any:
    """``torch.load(weights_only=True)``, with no retry: pickled code is refused with the safe routes."""
    try:
        return torch.load(io.BytesIO(source) if isinstance(source, bytes) else source,
                          map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        carried = f" (it references {found.group(1)})" if found else ""
        raise UnsafeFileError(f"{what} is a pickle that carries code{carried}; {SAFE_ROUTES}") from None
    except MemoryError:
        raise CheckpointError(f"{what}: declares more data than fits in memory") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as error:
        raise CheckpointError(f"{what}: truncated or corrupt torch file ({one_line(error)})") from None

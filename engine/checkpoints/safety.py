"""Checks that run before anything from a model file is trusted, allocated or unpickled.

The caps and the bounded readers are :mod:`genloupe.engine.io`'s (one policy for every reader);
this module binds them to :class:`CheckpointError` and adds what is particular to model files:
safetensors headers checked before they are parsed, declared image shapes, and ``torch.load``
that only ever runs with ``weights_only=True``.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .. import io as bounded
from ..errors import CheckpointError, UnsafeFileError
from ..io import check_member_name, describe, limits, one_line

__all__ = ["check_member_name", "one_line"]  # re-exported: checkpoint modules import them from here

MAX_DIM = 1 << 16  # one dimension of a declared image shape

SAFE_ROUTES = (
    "GenLoupe never unpickles code: save the model as an export bundle (`genloupe export`, or torch.export "
    "with a meta.json as the README shows), or open it through an adapter .py with --trust-code"
)


def check_zip(archive: zipfile.ZipFile, what: str) -> list[str]:
    """Member count, sizes, compression ratios, links and names of a zip, checked from its directory."""
    return bounded.check_zip(archive, what, CheckpointError)


def open_zip(source: Path | bytes, what: str, *, depth: int = 0) -> zipfile.ZipFile:
    """A checked zip archive from a path or bytes; CheckpointError if it is not a readable zip."""
    return bounded.open_zip(source, what, CheckpointError, depth=depth)


def read_member(archive: zipfile.ZipFile, name: str, what: str, limit: int | None = None) -> bytes:
    """The bytes of one member, never more than ``limit`` whatever its header claims."""
    return bounded.read_member(archive, name, what, limit, CheckpointError)


def read_file(path: Path, what: str) -> bytes:
    """A model file read whole, refused from its size above the model cap."""
    return bounded.read_bounded(path, what, limits().model_bytes, CheckpointError)


def parse_json(data: bytes, what: str, limit: int | None = None) -> Any:
    return bounded.parse_json(data, what, limit, CheckpointError)


def check_shape(shape: Any, what: str, *, itemsize: int = 4, limit: int | None = None) -> tuple[int, ...]:
    """A declared shape as a tuple of non-negative ints whose bytes (at ``itemsize``) are bounded."""
    bounded.declared_bytes(shape, itemsize, what, CheckpointError, limits().model_bytes if limit is None else limit)
    return tuple(shape)


def check_image_shape(shape: Any, what: str) -> tuple[int, int, int]:
    """A declared (C, H, W) with positive, bounded dimensions."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 3:
        raise CheckpointError(f"{what}: data shape must be [C, H, W], got {describe(shape)}")
    c, h, w = check_shape(shape, what, itemsize=1, limit=1 << 26)
    if min(c, h, w) < 1 or max(c, h, w) > MAX_DIM:
        raise CheckpointError(f"{what}: data shape {list(shape)} is out of range (each dimension 1..{MAX_DIM})")
    return c, h, w


SAFETENSORS_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                      "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, after checking its declared size, dtypes, shapes and offsets."""
    what = path.name
    caps = limits()
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{what}: truncated safetensors file ({size} bytes)")
        length = int.from_bytes(prefix, "little")
        if length > caps.safetensors_header or length > size - 8:
            raise CheckpointError(f"{what}: safetensors header declares {length} bytes (the file has {size - 8} "
                                  f"after the prefix; at most {caps.safetensors_header} allowed)")
        header = parse_json(stream.read(length), f"{what}: safetensors header", caps.safetensors_header)
    if not isinstance(header, dict):
        raise CheckpointError(f"{what}: safetensors header is not a JSON object")
    if len(header) - ("__metadata__" in header) > caps.tensors:
        count = len(header) - ("__metadata__" in header)
        raise CheckpointError(f"{what}: declares {count} tensors (at most {caps.tensors} allowed)")
    data_size = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise CheckpointError(f"{what}: safetensors metadata must map names to strings")
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{what}: tensor {describe(name)} has no known dtype")
        shape = check_shape(entry.get("shape"), f"{what}: tensor {describe(name)}",
                            itemsize=SAFETENSORS_DTYPES[entry["dtype"]])
        offsets = entry.get("data_offsets")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckpointError(f"{what}: tensor {describe(name)} has malformed data offsets")
        start, end = offsets
        if not 0 <= start <= end <= data_size or end - start != math.prod(shape) * SAFETENSORS_DTYPES[entry["dtype"]]:
            raise CheckpointError(
                f"{what}: tensor {describe(name)} declares shape {list(shape)} at bytes {start}..{end}, "
                f"which does not fit the {data_size} data bytes"
            )
    return header


def load_weights_only(source: Path | bytes, what: str) -> Any:
    """``torch.load(weights_only=True)``, with no retry: pickled code is refused with the safe routes.

    torch's own warnings (a legacy protocol-4 pickle, for one) are silenced: the outcome is one line of ours.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(source) if isinstance(source, bytes) else source,
                              map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found is None:
            raise CheckpointError(f"{what}: {_pickle_reason(error)}") from None
        raise UnsafeFileError(f"{what} is a pickle that carries code (it references {found.group(1)}), refused; "
                              f"{SAFE_ROUTES}") from None
    except MemoryError:
        raise CheckpointError(f"{what}: declares more data than fits in memory") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as error:
        raise CheckpointError(f"{what}: truncated or corrupt torch file ({one_line(error)})") from None


def _pickle_reason(error: BaseException) -> str:
    """What torch's weights-only unpickler refused, in one line (its own text spans many and suggests unsafe loading)."""
    found = re.search(r"Unsupported operand (\d+)", str(error))
    if found and int(found.group(1)) == pickle.FRAME[0]:
        return ("written with pickle protocol 4 or 5, which torch's weights-only reader cannot read; save it again "
                "with torch.save's default protocol (no code was run)")
    operand = f" (pickle opcode {found.group(1)})" if found else ""
    return f"a pickle that torch's weights-only reader cannot read{operand}; no code was run"

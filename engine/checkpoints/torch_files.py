"""Torch files (.pt pickles and .safetensors): GenLoupe zoo checkpoints, or a clear word on others.

A pickle is only ever read with ``weights_only=True``. One that holds a zoo checkpoint goes to
:func:`.zoo.load_checkpoint`; a bare state dict has no architecture to build, and a pickled module
carries code: both are refused with the routes that work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, GenLoupeError
from .safety import load_weights_only, one_line, read_safetensors_header
from .zoo import FORMAT, METADATA_KEY, load_checkpoint
NO_ARCHITECTURE = ("export the model as a bundle (`genloupe export`, or torch.export with a meta.json as the README "
                   "shows) or open it through an adapter .py with --trust-code")


def is_pickle(head: bytes) -> bool:
    """A legacy torch.save file or a plain pickle (protocol 2 to 5)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def is_torch_zip(names: list[str]) -> bool:
    return any(n.endswith("/data.pkl") for n in names)


def is_safetensors(head: bytes) -> bool:
    """An 8-byte little-endian header length, then the JSON header (its size is checked on reading)."""
    return len(head) >= 9 and head[8:9] == b"{"


def _zoo(path: Path) -> Any:
    try:
        return load_checkpoint(path)
    except GenLoupeError:
        raise
    except Exception as error:  # a damaged checkpoint can fail in torch or in the family's constructor
        reason = f"{type(error).__name__}: {one_line(error)}"
        raise CheckpointError(f"{path.name}: damaged GenLoupe checkpoint ({reason})") from None


def load_torch_file(path: Path) -> Any:
    content = load_weights_only(path, path.name)
    if isinstance(content, dict) and content.get("format") == FORMAT:
        return _zoo(path)
    if isinstance(content, dict) and content and all(isinstance(v, torch.Tensor) for v in content.values()):
        count = len(content)
        raise CheckpointError(f"{path.name} holds a bare state dict ({count} tensor{'s' * (count != 1)}) with no "
                              f"architecture to build; {NO_ARCHITECTURE}")
    raise CheckpointError(f"{path.name} is a torch file holding {type(content).__name__}, not a GenLoupe checkpoint; "
                          f"{NO_ARCHITECTURE}")


def load_safetensors(path: Path) -> Any:
    header = read_safetensors_header(path)
    if METADATA_KEY in header.get("__metadata__", {}):
        return _zoo(path)
    count = len(header) - ("__metadata__" in header)
    raise CheckpointError(f"{path.name} holds {count} tensor{'s' * (count != 1)} and no GenLoupe "
                          f"config in its metadata, so no architecture to build; {NO_ARCHITECTURE}")


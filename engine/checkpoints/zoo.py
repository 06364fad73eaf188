"""Checkpoints of GenLoupe's model zoo: a family's config plus its state dict, never pickled code.

Two containers hold the same content:

- ``.pt``: ``torch.save`` of a dict of plain types and tensors (format marker, version, family,
  config, levels, data shape, train_info, state_dict), read back with ``weights_only=True`` only;
- ``.safetensors``: the tensors, with everything else as JSON under the metadata key ``genloupe``.

Loading rebuilds the model from its config and checks the weights against it (names, shapes,
finite values) before any are used; every failure is a one-line :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import CheckpointError, ModelError
from ..io import describe, limits, one_line
from ..models.zoo import ZooModel, build_model, family_names
from .safety import load_weights_only, parse_json, read_safetensors_header

FORMAT = "genloupe-zoo"
VERSION = 1
METADATA_KEY = "genloupe"
SUFFIXES = (".pt", ".safetensors")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def save_checkpoint(model: ZooModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` (.pt or .safetensors, by the suffix); returns the path.

    Written to a temporary file first and moved into place, so a failed save leaves no half file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CheckpointError(f"{path}: checkpoints are written as .pt or .safetensors, not {suffix or 'no suffix'!r}")
    header = checkpoint_header(model)
    state = {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in model.state_dict().items()}
    partial = path.with_name(path.name + ".partial")
    try:
        if suffix == ".pt":
            torch.save({**header, "state_dict": state}, partial)
        else:
            save_file(state, str(partial), metadata={METADATA_KEY: json.dumps(header)})
        os.replace(partial, path)
    except (OSError, RuntimeError) as error:  # torch.save reports a missing folder as a RuntimeError
        partial.unlink(missing_ok=True)
        reason = getattr(error, "strerror", None) or one_line(error)
        raise CheckpointError(f"{path}: cannot write the checkpoint ({reason})") from None
    return path


def checkpoint_header(model: ZooModel) -> dict[str, Any]:
    """Everything but the tensors, as JSON-compatible plain types."""
    info = model.info
    header = {
        "format": FORMAT,
        "version": VERSION,
        "family": model.family,
        "config": model.config,
        "levels": info.levels,
        "data_shape": list(info.data_shape),
        "train_info": getattr(model, "train_info", {}),
    }
    try:
        return json.loads(json.dumps(header))
    except (TypeError, ValueError) as error:
        raise ModelError(f"{model.family}: config or train_info is not plain JSON data ({error})") from error


def load_checkpoint(path: str | os.PathLike) -> ZooModel:
    """The zoo model stored at ``path`` (on the CPU, eval mode), validated against its own config."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    with open(path, "rb") as handle:
        is_zip = handle.read(len(ZIP_MAGIC)) == ZIP_MAGIC
    header, state = _read_pt(path) if is_zip else _read_safetensors(path)
    with torch.device("meta"):  # shapes only: a config asking for gigabytes costs nothing until it is checked
        skeleton = _build(path, header)
    _check_size(path, skeleton)
    _check_state(path, skeleton, state)
    model = _build(path, header)
    model.load_state_dict(state)
    model.train_info = header.get("train_info") or {}
    return model.eval()


def _read_pt(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    content = load_weights_only(path, str(path))
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a GenLoupe zoo checkpoint (no {FORMAT!r} format marker)")
    state = content.get("state_dict")
    header = {key: value for key, value in content.items() if key != "state_dict"}
    return header, state


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    read_safetensors_header(path)  # sizes, counts and offsets checked before safetensors parses anything
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:  # safetensors raises its own error types on corrupt files
        raise CheckpointError(f"{path}: neither a torch file nor a readable safetensors file ({type(error).__name__})") from error
    if METADATA_KEY not in metadata:
        raise CheckpointError(f"{path}: safetensors file without GenLoupe metadata (no {METADATA_KEY!r} key)")
    header = parse_json(metadata[METADATA_KEY].encode(), f"{path}: GenLoupe metadata")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a GenLoupe zoo checkpoint (no {FORMAT!r} format marker)")
    return header, state


def _build(path: Path, header: dict[str, Any]) -> ZooModel:
    """A fresh model from the header's family and config, checked against its levels and shape."""
    version = header.get("version")
    if version != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {describe(version)}; this GenLoupe reads version {VERSION}")
    family, config = header.get("family"), header.get("config")
    if family not in family_names():
        raise CheckpointError(f"{path}: unknown model family {describe(family)}; known: {', '.join(family_names())}")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the config is not a mapping")
    try:
        model = build_model(family, config)
    except (ModelError, TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: its config does not build a {family} model ({one_line(error)})") from None
    info = model.info
    if header.get("levels") != info.levels or list(header.get("data_shape") or []) != list(info.data_shape):
        raise CheckpointError(
            f"{path}: header says {describe(header.get('data_shape'))} on {describe(header.get('levels'))} levels, "
            f"the config builds {list(info.data_shape)} on {info.levels} levels"
        )
    return model


def _check_size(path: Path, skeleton: ZooModel) -> None:
    """The memory the config implies (read from the meta-device skeleton), refused above the model cap."""
    implied = sum(t.numel() * t.element_size() for t in skeleton.state_dict().values())
    cap = limits().model_bytes
    if implied > cap:
        raise CheckpointError(f"{path}: its config implies {implied} bytes of weights (at most {cap} allowed)")


def _check_layout(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Every weight owns its bytes: stride-0 or overlapping views and weights sharing storage are refused
    before anything reads them, since reading a 2 KB stride-0 view can materialise gigabytes."""
    owners: dict[int, str] = {}
    for name, tensor in state.items():
        storage = tensor.untyped_storage()
        span = 1 + sum((size - 1) * stride for size, stride in zip(tensor.shape, map(abs, tensor.stride())) if size > 0)
        overlapping = tensor.numel() > 1 and span < tensor.numel()
        if overlapping or storage.nbytes() < tensor.numel() * tensor.element_size():
            raise CheckpointError(f"{path}: weight {describe(name)} is a view whose elements overlap (stride 0 or "
                                  "aliased); GenLoupe reads weights that own their bytes")
        key = storage.data_ptr()
        if tensor.numel() and key in owners:
            raise CheckpointError(f"{path}: weights {describe(owners[key])} and {describe(name)} share one storage; "
                                  "GenLoupe reads weights that own their bytes")
        owners[key] = name


def _check_state(path: Path, model: ZooModel, state: Any) -> None:
    """Names and shapes as the config needs them, owning their bytes, floating point, all finite;
    casts dtypes in place."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: the state dict is not a mapping of names to tensors")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = [f"missing {_names(missing)}" if missing else "", f"unexpected {_names(unexpected)}" if unexpected else ""]
        raise CheckpointError(f"{path}: weights do not match the {model.family} config: {'; '.join(p for p in parts if p)}")
    for name, tensor in state.items():
        want = expected[name]
        if tuple(tensor.shape) != tuple(want.shape):
            raise CheckpointError(
                f"{path}: weight {name!r} has shape {tuple(tensor.shape)}, the config needs {tuple(want.shape)}"
            )
    _check_layout(path, state)
    for name, tensor in state.items():
        want = expected[name]
        if not tensor.is_floating_point():
            raise CheckpointError(f"{path}: weight {name!r} has dtype {tensor.dtype}, expected floating point")
        state[name] = tensor.to(want.dtype)
    bad = [name for name, tensor in state.items() if not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(f"{path}: weights hold NaN or infinite values ({_names(bad)})")


def _names(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")

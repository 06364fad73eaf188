"""Which loader opens a path: a small registry of (matches -> loader), decided by content first.

A :class:`Probe` reads what decides (is it a folder, its first bytes, its zip member names after the
archive checks) once; each :class:`Format` says from that whether it is its kind of file. Order
matters where kinds nest: bundles, TorchScript archives and .npz files are zips too, and the torch
zip format is checked after them. Extensions decide only where content cannot (.onnx, .py).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckpointError
from .adapter import is_adapter, load_adapter
from .export_bundle import bundle_prefix, is_bundle_dir, load_bundle
from .onnx_generator import load_onnx
from .safety import check_zip, one_line
from .sample_bundle import is_image_folder, load_image_folder, load_npz
from .torch_files import is_pickle, is_safetensors, is_torch_zip, load_safetensors, load_torch_file
from .torchscript import is_torchscript, load_torchscript

HEAD_BYTES = 64
ONNX_SECOND_FIELDS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42}  # ModelProto fields after ir_version


@dataclass(frozen=True)
class Probe:
    """What the registry looks at, read once: kind, first bytes, size, zip member names."""

    path: Path
    is_dir: bool
    head: bytes = b""
    size: int = 0
    names: tuple[str, ...] | None = None  # zip member names, after the archive checks

    @classmethod
    def of(cls, path: Path) -> "Probe":
        if not path.exists():
            raise CheckpointError(f"{path}: no such file or folder")
        if path.is_dir():
            return cls(path, True)
        size = path.stat().st_size
        if size == 0:
            raise CheckpointError(f"{path.name}: the file is empty")
        with open(path, "rb") as stream:
            head = stream.read(HEAD_BYTES)
        names = None
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            try:
                with zipfile.ZipFile(path) as archive:
                    names = tuple(check_zip(archive, path.name))
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                raise CheckpointError(f"{path.name}: truncated or corrupt zip archive ({one_line(error)})") from None
        return cls(path, False, head, size, names)

    @property
    def zip(self) -> list[str]:
        return list(self.names or ())


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    matches: Callable[[Probe], bool]
    load: Callable[[Probe, bool], Any]  # (probe, trust_code) -> a protocol model


def _is_onnx(probe: Probe) -> bool:
    head = probe.head
    sniffed = len(head) >= 3 and head[0] == 0x08 and 0 < head[1] < 32 and head[2] in ONNX_SECOND_FIELDS
    return probe.path.suffix.lower() == ".onnx" or (probe.names is None and sniffed)


FORMATS: tuple[Format, ...] = (
    Format("export-bundle", "torch.export bundle",
           lambda p: is_bundle_dir(p.path) if p.is_dir else bundle_prefix(p.zip) is not None,
           lambda p, trust: load_bundle(p.path)),
    Format("torchscript", "TorchScript archive", lambda p: is_torchscript(p.zip),
           lambda p, trust: load_torchscript(p.path, trust)),
    Format("sample-npz", "sample bundle (.npz)", lambda p: "samples.npy" in p.zip, lambda p, trust: load_npz(p.path)),
    Format("torch", "GenLoupe checkpoint (.pt)", lambda p: is_torch_zip(p.zip) or is_pickle(p.head),
           lambda p, trust: load_torch_file(p.path)),
    Format("safetensors", "GenLoupe checkpoint (.safetensors)",
           lambda p: is_safetensors(p.head) or p.path.suffix == ".safetensors",
           lambda p, trust: load_safetensors(p.path)),
    Format("onnx", "ONNX generator", lambda p: not p.is_dir and _is_onnx(p), lambda p, trust: load_onnx(p.path)),
    Format("sample-folder", "sample bundle (image folder)", lambda p: p.is_dir and is_image_folder(p.path),
           lambda p, trust: load_image_folder(p.path)),
    Format("adapter", "Python adapter", lambda p: not p.is_dir and is_adapter(p.path, p.head),
           lambda p, trust: load_adapter(p.path, trust)),
)

KNOWN = ("a GenLoupe checkpoint (.pt, .safetensors), an export bundle (folder or .zip), a TorchScript archive, "
         "an ONNX generator, a sample bundle (.npz or image folder) or an adapter .py")


def detect(probe: Probe) -> Format:
    for fmt in FORMATS:
        if fmt.matches(probe):
            return fmt
    if probe.is_dir:
        raise CheckpointError(f"{probe.path.name}: this folder holds no model GenLoupe knows; expected {KNOWN}")
    if any(name.endswith("/models/model.json") for name in probe.zip):
        raise CheckpointError(f"{probe.path.name} is a single torch.export program; GenLoupe opens bundles: a folder "
                              "or .zip holding meta.json, sample.pt2 and log_prob.pt2 (see the README)")
    if probe.names is not None:
        raise CheckpointError(f"{probe.path.name}: a zip archive GenLoupe does not know (members such as "
                              f"{', '.join(probe.zip[:3]) or 'none'}); expected {KNOWN}")
    raise CheckpointError(f"{probe.path.name}: not a model file GenLoupe knows (it starts with bytes "
                          f"{probe.head[:8].hex(' ')}); expected {KNOWN}")

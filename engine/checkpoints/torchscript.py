"""TorchScript archives (the legacy route): ``sample`` and ``log_prob`` methods exported with
``@torch.jit.export``, and GenLoupe's meta.json saved as the extra file ``genloupe_meta.json``.

The methods follow the export bundle's conventions (explicit noise in, model space; see
:mod:`.bundle_meta`). TorchScript is deprecated since PyTorch 2.11; export bundles replace it.
TorchScript code is compiled by TorchScript itself, not run as Python; the archive is still
checked like any zip, and code that calls operators reading files is refused.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from ..errors import CheckpointError, UnsafeFileError
from .bundle_meta import BundleMeta
from .programs import ProgramModel
from .quiet import quiet_torch
from .safety import MAX_ARCHIVE_BYTES, one_line, open_zip, parse_json, read_member

META_FILE = "genloupe_meta.json"
DENIED_CODE = re.compile(r"\bfrom_file\b")


def is_torchscript(names: list[str]) -> bool:
    """A TorchScript archive holds compiled code next to its pickled module."""
    return any("/code/" in n for n in names) and any(n.endswith("/constants.pkl") for n in names)


class ScriptMethod:
    """One method of a script module as a :class:`~.programs.Program` (any batch size)."""

    batch = None

    def __init__(self, module: torch.jit.ScriptModule, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return getattr(self.module, self.name)(*inputs)

    def moved(self, device: torch.device) -> "ScriptMethod":
        return ScriptMethod(self.module.to(device), self.name)


def load_torchscript(path: Path) -> ProgramModel:
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise CheckpointError(f"{path.name} is larger than {MAX_ARCHIVE_BYTES} bytes")
    data = path.read_bytes()
    archive = open_zip(data, path.name)
    for name in (n for n in archive.namelist() if "/code/" in n and n.endswith(".py")):
        if DENIED_CODE.search(read_member(archive, name, path.name).decode("utf-8", "replace")):
            raise UnsafeFileError(f"{path.name}: its TorchScript code reads files (from_file); refused")
    extra = {META_FILE: ""}
    try:
        with quiet_torch():
            module = torch.jit.load(io.BytesIO(data), map_location="cpu", _extra_files=extra)
    except Exception as error:  # TorchScript raises RuntimeError and others on damaged archives
        raise CheckpointError(f"{path.name}: not a loadable TorchScript archive ({one_line(error)})") from None
    if not extra[META_FILE]:
        raise CheckpointError(f"{path.name}: TorchScript archive without {META_FILE}; save it with torch.jit.save("
                              f"module, path, _extra_files={{'{META_FILE}': meta_json}}) (see the README)")
    what = f"{path.name}: {META_FILE}"
    meta = BundleMeta.parse(parse_json(extra[META_FILE], what), what)
    needed = ["sample"] + (["log_prob"] if meta.likelihood != "none" else [])
    missing = [name for name in needed if not hasattr(module, name)]
    if missing:
        raise CheckpointError(f"{path.name}: TorchScript module has no {', '.join(missing)} method "
                              "(mark them with @torch.jit.export)")
    return ProgramModel(
        meta, ScriptMethod(module, "sample"), ScriptMethod(module, "log_prob") if "log_prob" in needed else None,
        parameter_count=sum(p.numel() for p in module.parameters()), format_name="TorchScript archive",
    )

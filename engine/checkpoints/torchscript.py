"""TorchScript archives (the legacy route): ``sample`` and ``log_prob`` methods exported with
``@torch.jit.export``, and GenLoupe's meta.json saved as the extra file ``genloupe_meta.json``.

The methods follow the export bundle's conventions (explicit noise in, model space; see
:mod:`.bundle_meta`). TorchScript is deprecated since PyTorch 2.11; export bundles replace it.
TorchScript code is compiled by TorchScript itself, not run as Python, but it may call operators
that read or write files (``aten::save``), so an archive opens only with ``trust_code``.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..errors import CheckpointError, UnsafeFileError
from .bundle_meta import BundleMeta
from .programs import ProgramModel
from .quiet import quiet_torch
from .safety import one_line, open_zip, parse_json, read_file

META_FILE = "genloupe_meta.json"


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


def load_torchscript(path: Path, trust_code: bool) -> ProgramModel:
    """TorchScript runs the code compiled into the archive, which can call any operator (``aten::save``
    writes files), so like an adapter it opens only when trusted; an export bundle needs no trust."""
    if not trust_code:
        raise UnsafeFileError(f"{path.name} is TorchScript, whose compiled code can write files; open it with "
                              "--trust-code only if you trust it, or bring the model as an export bundle")
    data = read_file(path, path.name)
    open_zip(data, path.name)  # size, member count and path checks before torch reads the archive
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

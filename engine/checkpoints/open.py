"""``open_model``: any supported file to a checked protocol model, with its provenance."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, GenLoupeError, ModelError
from ..io.child import run_limited
from .checked import LoadedModel, checked_model
from .hashing import content_hash
from .probes import probe_model
from .registry import Format, Probe, detect
from .safety import one_line


def split_head(path: str | os.PathLike, head: str | None) -> tuple[Path, str | None]:
    """``PATH#head`` to (PATH, head) when PATH exists and the whole string does not."""
    text = os.fspath(path)
    if head is None and "#" in text and not Path(text).exists():
        base, _, name = text.rpartition("#")
        if Path(base).expanduser().exists():
            return Path(base).expanduser(), name
    return Path(text).expanduser(), head


def _pick_head(model: Any, head: str | None, path: Path) -> Any:
    if not head:
        return model
    heads = model.heads() if callable(getattr(model, "heads", None)) else []
    if head not in heads:
        listed = f"; its heads: {', '.join(h for h in heads if h)}" if any(heads) else ""
        raise CheckpointError(f"{path.name} has no head {head!r}{listed}")
    return model.head(head)


# Formats whose loading runs code from the file: they open only with trust_code (the window asks).
CODE_FORMATS = ("adapter", "torchscript")
# Formats whose untrusted programs run when first probed: the probe runs in a limited child process.
PROGRAM_FORMATS = ("export-bundle", "onnx")


def format_of(path: str | os.PathLike) -> str:
    """The format key a path would open as ('adapter', 'export-bundle', ...), without loading it.

    The window asks before opening one of CODE_FORMATS; a pickle that carries code is refused
    whatever the user trusts, so UnsafeFileError alone does not say whether to ask.
    """
    return detect(Probe.of(split_head(path, None)[0])).name


def load_raw(path: str | os.PathLike, *, trust_code: bool = False,
             head: str | None = None) -> tuple[Any, Format, Path, str | None]:
    """The unwrapped model a file holds (what ``export`` needs), its format, path and head."""
    path, head = split_head(path, head)
    probe = Probe.of(path)
    fmt = detect(probe)
    try:
        model = fmt.load(probe, trust_code)
    except GenLoupeError:
        raise
    except Exception as error:  # loaders translate what they expect; anything else still ends in one line
        reason = f"{type(error).__name__}: {one_line(error)}"
        raise CheckpointError(f"{path.name}: cannot open as {fmt.title} ({reason})") from None
    return _pick_head(model, head, path), fmt, path, head


def open_model(path: str | os.PathLike, *, trust_code: bool = False, head: str | None = None) -> LoadedModel:
    """Open any supported model file (``PATH#head`` picks a head of the hybrid) as a checked model.

    ``info.extra`` gains ``format`` (a title), ``format_id`` (a key, e.g. 'adapter'), ``source``,
    ``content_hash``, ``parameters`` and ``warnings`` (what the probes on open found legitimate but
    worth saying, see :mod:`.probes`). Raises CheckpointError (UnsafeFileError for code that is not
    trusted) or ModelError, always with a one-line message.
    """
    model, fmt, path, head = load_raw(path, trust_code=trust_code, head=head)
    isolated = fmt.name in PROGRAM_FORMATS
    warnings = None
    if isolated:  # a graph may loop for ever or allocate gigabytes when run: probe it where a limit can stop it
        warnings = run_limited(f"{__name__}:probe_here", (str(path), head), path.name, CheckpointError)
    extra = {"format": fmt.title, "format_id": fmt.name, "source": str(path), "content_hash": content_hash(path)}
    loaded = checked_model(model, {**extra, "head": head} if head else extra, probe=not isolated)
    warnings = probed(loaded, path.name) if warnings is None else warnings
    loaded.info = replace(loaded.info, extra={**loaded.info.extra, "warnings": warnings})
    return loaded


def probed(model: LoadedModel, where: str) -> list[str]:
    """The probes' warnings; a probe that crashes inside the model's code is a one-line ModelError too."""
    try:
        return probe_model(model, where)
    except GenLoupeError:
        raise
    except Exception as error:  # a file's code failed on the probe batch: report it, never crash
        raise ModelError(f"{where}: failed on the probes ({type(error).__name__}: {one_line(error)})") from None


def probe_here(path: str, head: str | None) -> list[str]:
    """Open ``path`` and run the open-time probes in this process (what the limited child runs): their warnings."""
    import torch

    torch.set_num_threads(1)
    return probed(checked_model(load_raw(path, head=head)[0], {"source": path}), Path(path).name)

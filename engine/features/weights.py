"""Where feature-extractor weights files are found, without downloading anything.

In order: the path the caller gives (a CLI flag), an environment variable, then torch hub's
``checkpoints/`` folder under ``$TORCH_HOME`` (default ``$XDG_CACHE_HOME/torch``, else
``~/.cache/torch``), where pytorch-fid, torch-fidelity and ``torch.hub`` leave the files they once
downloaded. Only file names that those tools write are looked for there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeightsFile:
    """Where one extractor's weights may be: its flag, its variable, its file names in the hub cache."""

    flag: str
    env: str
    hub_patterns: tuple[str, ...]  # glob patterns, in order of preference
    how_to_get: str  # one sentence: where the file comes from


@dataclass(frozen=True)
class Found:
    path: str
    source: str  # the flag, "$VARIABLE" or "torch hub cache"


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoints folder, computed as ``torch.hub.get_dir()`` does (torch is not imported)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def find_weights(spec: WeightsFile, given: str | os.PathLike | None = None) -> Found | None:
    """The file named by ``given``, by the variable, or found in the hub cache (None if none applies).

    A path that is given or set in the variable is returned whether it exists or not: the loader then
    says it is missing, rather than silently using some other file.
    """
    if given is not None and os.fspath(given):
        return Found(os.fspath(given), spec.flag)
    if os.environ.get(spec.env):
        return Found(os.environ[spec.env], f"${spec.env}")
    folder = torch_hub_checkpoints()
    for pattern in spec.hub_patterns:
        matches = sorted(path for path in folder.glob(pattern) if path.is_file())
        if matches:
            return Found(str(matches[0]), "torch hub cache")
    return None


def where_to_put(spec: WeightsFile) -> str:
    """The places a user can put or name the file, for error messages and ``genloupe features``."""
    return f"pass {spec.flag} PATH, set {spec.env}=PATH, or put it in {torch_hub_checkpoints()}"

"""Versions that go into every result's provenance."""

from __future__ import annotations

import platform
from importlib import metadata

import numpy as np
import torch


def versions() -> dict[str, str]:
    try:
        genloupe = metadata.version("genloupe")
    except metadata.PackageNotFoundError:
        genloupe = "unknown"
    return {"genloupe": genloupe, "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}

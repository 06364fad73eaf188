"""Stand-in data sets at real shapes, shipped with GenLoupe: ``digits28`` (1x28x28) and ``digits32rgb``
(3x32x32), both on 256 levels, made from the embedded digits by ``python -m genloupe.assets.build_standins``.

They let tests, benchmarks and a first try of the window run at the shapes researchers' models use,
with nothing downloaded. They are ordinary .npz archives, read by the .npz reader like a user's own.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

from ..errors import DataError
from .arrays import read_npz
from .dataset import Dataset

STANDINS = ("digits28", "digits32rgb")


def standin_path(name: str) -> Path:
    return Path(str(resources.files("genloupe.assets").joinpath("standins", f"{name}.npz")))


def read_standin(name: str, levels: int | None = None) -> Dataset:
    """The stand-in set ``name`` (one of :data:`STANDINS`), its labels the digits' own."""
    path = standin_path(name)
    if not path.is_file():
        raise DataError(f"stand-in set {name!r} not found at {path}; rebuild it with python -m genloupe.assets.build_standins")
    return replace(read_npz(path, levels), name=name, format="stand-in")

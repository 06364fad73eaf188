"""The outside-style models of assets/examples, trained tiny once per test process in a scratch folder.

Every test that brings a model in the researcher's way (adapter, export bundle, ONNX, .npz) starts
from this folder: the example files copied as a researcher would have them, plus their weights.
"""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import genloupe.assets

EXAMPLES = Path(genloupe.assets.__file__).parent / "examples"
EPOCHS = 8  # seconds of training: enough for the models to beat the uniform baseline clearly


@functools.lru_cache(maxsize=1)
def trained() -> Path:
    """A folder holding the example files, made.pt, vae.pt and train_indices.json."""
    folder = Path(tempfile.mkdtemp(prefix="genloupe-byo-"))
    for file in EXAMPLES.glob("*.py"):
        shutil.copy(file, folder)
    module("train").train(folder, EPOCHS)
    return folder


def module(name: str) -> ModuleType:
    """One of the example modules (made, vae, train, ...), imported the way the adapters import them."""
    if str(EXAMPLES) not in sys.path:
        sys.path.append(str(EXAMPLES))
    __import__(name)
    return sys.modules[name]


def write(folder: Path, name: str, text: str) -> Path:
    """A variant adapter beside the examples (it imports them as siblings)."""
    path = folder / name
    path.write_text(text)
    return path

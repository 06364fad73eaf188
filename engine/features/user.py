"""User feature extractors: a TorchScript archive (.pt) or a torch.export program (.pt2).

The network takes float32 images in [0, 1] of shape (N, C, H, W) (display values x/(L-1)) and
returns features (N, d) or a tuple (features (N, d), logits (N, k)). A .pt2 program is vetted
before torch sees it (``torch.export.load`` alone can unpickle code; see checkpoints/pt2_check.py).
TorchScript's compiled code can call any operator (``aten::save`` writes files), so a .pt extractor
loads only with ``trust_code``. torch deprecates TorchScript; .pt2 is the format to prefer.
"""

from __future__ import annotations

import os
import warnings

import torch

from ..checkpoints.pt2_check import check_pt2
from ..errors import CheckpointError, GenLoupeError, UnsafeFileError
from .cache import file_sha256
from .extractor import FeatureExtractor, first_line

SUFFIXES = (".pt", ".pt2")
PREPROCESSING = "display values x/(L-1) in [0,1], float32 (N,C,H,W), passed unchanged to the user network"


def _load_module(path: str) -> torch.nn.Module:
    if path.endswith(".pt2"):
        with open(path, "rb") as handle:
            check_pt2(handle.read(), os.path.basename(path))
        return torch.export.load(path).module()  # traced in the mode it was exported in; no .eval()
    with warnings.catch_warnings():  # torch deprecates TorchScript; the user picked the format, we still read it
        warnings.filterwarnings("ignore", message="`torch.jit.load` is deprecated")
        return torch.jit.load(path, map_location="cpu").eval()


def load(path: str | os.PathLike, trust_code: bool = False) -> FeatureExtractor:
    """A user extractor; its name is the file name, its weights hash the file's SHA-256."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: feature extractor file not found")
    if not path.endswith(SUFFIXES):
        raise CheckpointError(
            f"{path}: a feature extractor file must be TorchScript (.pt) or torch.export (.pt2)"
        )
    if path.endswith(".pt") and not trust_code:
        raise UnsafeFileError(f"{os.path.basename(path)} is TorchScript, whose compiled code can write files; use it "
                              "with --trust-code only if you trust it, or export the extractor as .pt2")
    try:
        module = _load_module(path)
    except GenLoupeError:
        raise
    except Exception as error:  # torch raises many types for foreign or corrupt archives
        how = "torch.export.save(torch.export.export(net, (x,)), PATH)" if path.endswith(".pt2") else (
            "torch.jit.script(net).save(PATH)"
        )
        raise CheckpointError(f"{path}: cannot load as a feature extractor ({first_line(error)}); save it with {how}") from None
    return FeatureExtractor(
        name=os.path.basename(path),
        module=module,
        weights_hash=file_sha256(path),
        preprocessing=PREPROCESSING,
    )

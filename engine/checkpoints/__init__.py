"""Open the checkpoints researchers have, safely: zoo checkpoints, export bundles, TorchScript,
ONNX generators, sample bundles and trusted adapters (see ``registry.py`` for how one is picked)."""

from .checked import LoadedModel
from .export_bundle import ExportResult, export_bundle, load_bundle, write_bundle
from .hashing import content_hash
from .open import CODE_FORMATS, format_of, load_raw, open_model

__all__ = ["CODE_FORMATS", "ExportResult", "LoadedModel", "content_hash", "export_bundle", "format_of", "load_bundle", "load_raw",
           "open_model", "write_bundle"]

"""On-disk feature cache: one .npz per (data content, extractor, weights, preprocessing).

The default directory is ``$GENLOUPE_CACHE_DIR/features`` when that variable is set, else the
platform's user cache directory (``~/.cache/genloupe/features`` on Linux, honouring
``$XDG_CACHE_HOME``; ``~/Library/Caches/genloupe/features`` on macOS;
``%LOCALAPPDATA%\\genloupe\\Cache\\features`` on Windows). The cache is an optimisation only: an
unreadable entry is recomputed and an unwritable directory is skipped with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .. import io as bounded
from ..errors import GenLoupeError

CACHE_ENV = "GENLOUPE_CACHE_DIR"
FORMAT = "genloupe-features-1"
ENTRY_KEYS = ("key", "features", "logits")


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root) / "features"
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "genloupe" / "Cache"
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches" / "genloupe"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "genloupe"
    return base / "features"


def cache_key(data_hash: str, extractor: str, weights_hash: str, preprocessing: str) -> str:
    """A file-name-safe key; any change in the four parts (or the format) gives another key."""
    parts = {"format": FORMAT, "data": data_hash, "extractor": extractor, "weights": weights_hash,
             "preprocessing": preprocessing}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load(cache_dir: Path, key: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Cached (features, logits), or None on a miss or an unreadable entry."""
    path = cache_dir / f"{key}.npz"
    if not path.is_file():
        return None
    try:  # read through the one read policy: a tampered entry cannot make the cache allocate gigabytes
        stored = bounded.load_npz(path, path.name, select=lambda keys: [k for k in ENTRY_KEYS if k in keys])
        if str(stored["key"]) != key:
            return None
        return stored["features"], stored.get("logits")
    except (GenLoupeError, KeyError):
        return None


def store(cache_dir: Path, key: str, features: np.ndarray, logits: np.ndarray | None, meta: dict) -> None:
    """Write atomically (temp file + rename) so that a killed run never leaves a half entry."""
    arrays = {"key": np.array(key), "meta": np.array(json.dumps(meta, sort_keys=True)), "features": features}
    if logits is not None:
        arrays["logits"] = logits
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key[:16]}-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **arrays)
            os.replace(temp, cache_dir / f"{key}.npz")
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as error:
        warnings.warn(f"feature cache not written to {cache_dir}: {error}", RuntimeWarning, stacklevel=2)

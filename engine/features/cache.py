"""On-disk feature cache: one .npz per (data content, extractor, weights, preprocessing).

The default directory is ``$GENLOUPE_CACHE_DIR/features`` when that variable is set, else the
platform's user cache directory (``~/.cache/genloupe/features`` on Linux, honouring
``$XDG_CACHE_HOME``; ``~/Library/Caches/genloupe/features`` on macOS;
``%LOCALAPPDATA%\\genloupe\\Cache\\features`` on Windows). The cache is an optimisation only: an
unreadable entry is recomputed and an unwritable directory is skipped with a warning. Beside the entries,
``weights-sha256/`` remembers the hashes of weights files (see :func:`file_sha256`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from .. import io as bounded
from ..errors import GenLoupeError

CACHE_ENV = "GENLOUPE_CACHE_DIR"
FORMAT = "genloupe-features-1"
HASH_NOTES = "weights-sha256"  # sub-directory of remembered weights hashes
_HEX64 = re.compile(r"[0-9a-f]{64}")
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


def file_sha256(path: str | os.PathLike, cache_dir: Path | None = None) -> str:
    """SHA-256 of a (weights) file's bytes, remembered in the cache under the file's path, size and
    modification time: DINOv2's 1.2 GB took seconds to hash on every load. A rewritten file has another
    modification time and is hashed again; a note that is not 64 hex digits is ignored and rewritten."""
    path = Path(path).resolve()
    stat = path.stat()
    identity = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    note = (cache_dir or default_cache_dir()) / HASH_NOTES / f"{identity}.txt"
    try:
        remembered = note.read_text(encoding="ascii").strip() if note.stat().st_size == 64 else ""
    except (OSError, UnicodeDecodeError):
        remembered = ""
    if _HEX64.fullmatch(remembered):
        return remembered
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    _write_atomically(note, lambda stream: stream.write(digest.hexdigest().encode()))
    return digest.hexdigest()


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
    """Write the entry atomically, so that a killed run never leaves a half entry."""
    arrays = {"key": np.array(key), "meta": np.array(json.dumps(meta, sort_keys=True)), "features": features}
    if logits is not None:
        arrays["logits"] = logits
    _write_atomically(cache_dir / f"{key}.npz", lambda stream: np.savez(stream, **arrays))


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Temp file + rename; an unwritable directory is skipped with a warning (the cache only saves time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=path.suffix)
        try:
            with os.fdopen(handle, "wb") as stream:
                write(stream)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as error:
        warnings.warn(f"feature cache not written to {path.parent}: {error}", RuntimeWarning, stacklevel=3)

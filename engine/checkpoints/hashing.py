"""Content hashes of model files and folders: the key under which a trusted adapter is remembered."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def content_hash(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes, or of a folder's relative file names and file hashes.

    Renaming or moving a file keeps its hash; changing one byte of it, or of any file in a folder,
    changes it. Links inside a folder are not followed.
    """
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0" + _file_digest(item).encode() + b"\n")
        return "sha256:" + digest.hexdigest()
    return "sha256:" + _file_digest(path)

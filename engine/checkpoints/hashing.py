"""Content hashes of model files and folders: the key under which a trusted adapter is remembered."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import CheckpointError

CHUNK = 1 << 20
MAX_FOLDER_FILES, MAX_FOLDER_BYTES = 1000, 4 << 30  # an adapter's folder hashed when it declares no files


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _loaded_files(folder: Path) -> list[Path]:
    """Every file a loader may read from ``folder``: links that stay inside count (by their target's bytes),
    links that lead out are refused, so that a hash always covers what is loaded."""
    root = folder.resolve()
    files = []
    for item in folder.rglob("*"):
        if item.is_symlink() and not item.resolve().is_relative_to(root):
            raise CheckpointError(f"{folder.name}: {item.relative_to(folder).as_posix()} is a link leading out of the "
                                  "folder; copy the file in instead")
        if item.is_file():
            files.append(item)
    return sorted(files)


def content_hash(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of a file's bytes, or of a folder's relative file names and file hashes.

    ``PATH#head`` hashes the file at PATH. Renaming or moving a file keeps its hash; changing one
    byte of it, or of any file in a folder, changes it. An adapter's hash covers what it loads too
    (:func:`adapter_hash`).
    """
    from .open import split_head  # open imports this module

    path = split_head(path, None)[0]
    if path.is_file() and path.suffix == ".py":
        return adapter_hash(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for item, item_digest in _still_there(_loaded_files(path)):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0" + item_digest.encode() + b"\n")
        return "sha256:" + digest.hexdigest()
    return "sha256:" + _file_digest(path)


def adapter_hash(path: Path) -> str:
    """An adapter's hash over itself and the files it declares (``GENLOUPE_FILES``), else its whole folder:
    changing the weights it loads changes it, so trust and the check for changed checkpoints see them."""
    from .adapter import declared_files  # reads the declaration without running the file

    folder = path.parent
    files = declared_files(path)
    if files is None:  # bytecode caches appear on import: they are not what the person trusted
        listed = [p for p in _loaded_files(folder) if "__pycache__" not in p.parts]
        if len(listed) > MAX_FOLDER_FILES or sum(_size(p) for p in listed) > MAX_FOLDER_BYTES:
            raise CheckpointError(f"{path.name} declares no GENLOUPE_FILES, so its hash would cover its whole folder, "
                                  f"which is too large; list the files it loads: GENLOUPE_FILES = [\"weights.pt\"]")
        entries = _still_there(sorted({path, *listed}))
    else:
        entries = [(item, _file_digest(item)) for item in sorted({path, *files})]
    digest = hashlib.sha256()
    for item, item_digest in entries:
        name = os.path.relpath(item, folder).replace(os.sep, "/")
        digest.update(name.encode() + b"\0" + item_digest.encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def _still_there(listed: list[Path]) -> list[tuple[Path, str]]:
    """(file, digest) for the files of a folder listing that still exist when read: a lock or temporary file
    another process removed in between is left out (what no longer exists cannot be loaded)."""
    entries = []
    for item in listed:
        try:
            entries.append((item, _file_digest(item)))
        except FileNotFoundError:
            continue
    return entries


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

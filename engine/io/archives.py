"""Zip archives checked from their central directory before any member is read.

Member count, names that would escape a folder, links, each member's expansion ratio and the
total expanded size are all checked against :func:`.limits.limits`; archives read out of archives
count their nesting, so a zip in a zip in a zip is refused before it is opened.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import GenLoupeError, UnsafeFileError
from .limits import limits
from .text import describe, one_line

RATIO_FLOOR = 1 << 20  # members smaller than this may compress as well as they like


def check_member_name(name: str, what: str) -> None:
    """Refuse archive member names that are absolute or climb out of the folder they unpack into."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise UnsafeFileError(f"{what}: archive member {describe(name)} would be written outside the archive's folder")


def check_zip(archive: zipfile.ZipFile, what: str, error: type[GenLoupeError] = GenLoupeError) -> list[str]:
    """Member count, names, links, ratios and total size of a zip, checked from its directory."""
    caps = limits()
    infos = archive.infolist()
    if len(infos) > caps.members:
        raise error(f"{what}: archive has {len(infos)} members (at most {caps.members} allowed)")
    total = 0
    for info in infos:
        check_member_name(info.filename, what)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeFileError(f"{what}: archive member {describe(info.filename)} is a symbolic link")
        if info.file_size > RATIO_FLOOR and info.file_size > caps.ratio * max(info.compress_size, 1):
            raise error(f"{what}: archive member {describe(info.filename)} expands "
                        f"{info.file_size // max(info.compress_size, 1)}-fold (at most {caps.ratio}; a zip bomb?)")
        total += info.file_size
    if total > caps.decompressed_bytes:
        raise error(f"{what}: archive expands to {total} bytes (at most {caps.decompressed_bytes} allowed)")
    return [info.filename for info in infos]


def open_zip(source: Path | bytes, what: str, error: type[GenLoupeError] = GenLoupeError, *,
             depth: int = 0) -> zipfile.ZipFile:
    """A checked zip from a path or bytes; ``depth`` counts the archives it was read out of."""
    caps = limits()
    if depth > caps.nesting:
        raise error(f"{what}: an archive nested {depth} deep inside others (at most {caps.nesting} allowed)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as problem:
        raise error(f"{what}: not a readable zip archive ({one_line(problem)})") from None
    check_zip(archive, what, error)
    return archive


def read_member(archive: zipfile.ZipFile, name: str, what: str, limit: int | None = None,
                error: type[GenLoupeError] = GenLoupeError) -> bytes:
    """The bytes of one member, never more than ``limit`` (default: the decompressed cap) whatever it claims."""
    limit = limits().decompressed_bytes if limit is None else limit
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise error(f"{what}: {describe(name)} is {info.file_size} bytes (at most {limit} allowed)")
    try:
        with archive.open(info) as stream:
            data = stream.read(info.file_size + 1)  # one byte more than declared shows a lie
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as problem:
        raise error(f"{what}: {describe(name)} cannot be read ({one_line(problem)})") from None
    if len(data) > info.file_size:
        raise error(f"{what}: {describe(name)} is larger than its archive entry says")
    return data

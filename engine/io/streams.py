"""Bounded reads of plain and gzipped files: never more bytes in memory than the caller allows."""

from __future__ import annotations

import zlib
from pathlib import Path

from ..errors import GenLoupeError
from .limits import limits
from .text import one_line

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


def read_bounded(path: Path, what: str, limit: int | None = None, error: type[GenLoupeError] = GenLoupeError) -> bytes:
    """A whole file, refused from its size when it is larger than ``limit`` (default: the decompressed cap)."""
    limit = limits().decompressed_bytes if limit is None else limit
    try:
        size = path.stat().st_size
        if size > limit:
            raise error(f"{what}: {size} bytes (at most {limit} allowed)")
        with open(path, "rb") as stream:
            data = stream.read(size + 1)  # read(n) reserves n bytes up front: ask for what is there
    except OSError as problem:
        raise error(f"{what}: cannot be read ({problem.strerror or one_line(problem)})") from None
    if len(data) > limit:
        raise error(f"{what}: grew past {limit} bytes while being read")
    return data


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == GZIP_MAGIC


def gunzip(path: Path, what: str, limit: int | None = None, error: type[GenLoupeError] = GenLoupeError,
           *, prefix: bool = False) -> bytes:
    """The decompressed bytes of a gzip file, streamed: at most ``limit`` ever held.

    With ``prefix`` the first ``limit`` bytes are returned (a header); otherwise a stream that
    expands past ``limit`` is refused as soon as it does, before the rest is inflated.
    """
    limit = limits().decompressed_bytes if limit is None else limit
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    held = 0
    try:
        with open(path, "rb") as stream:
            while held <= limit:
                chunk = inflate.unconsumed_tail or stream.read(CHUNK)
                if not chunk:
                    break
                part = inflate.decompress(chunk, limit + 1 - held)
                parts.append(part)
                held += len(part)
                if inflate.eof:
                    break
            ended = not inflate.eof and not inflate.unconsumed_tail and not stream.read(1)
    except (OSError, zlib.error) as problem:
        raise error(f"{what}: corrupt gzip file ({one_line(problem)})") from None
    data = b"".join(parts)
    if ended:  # every compressed byte was fed and the stream never finished
        raise error(f"{what}: corrupt gzip file (truncated)")
    if prefix:
        return data[:limit]
    if held > limit:
        raise error(f"{what}: expands past {limit} bytes when decompressed (at most {limit} allowed; a gzip bomb?)")
    return data

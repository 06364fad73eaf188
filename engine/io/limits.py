"""The read limits: how much any reader of untrusted bytes may decompress, allocate or iterate.

One frozen :class:`ReadLimits` holds every cap; readers ask :func:`limits` before they allocate.
``GENLOUPE_READ_LIMITS="field=value,..."`` may *lower* a cap (tests use it to keep bombs small and
fast); it can never raise one above the production value.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

ENV = "GENLOUPE_READ_LIMITS"


@dataclass(frozen=True)
class ReadLimits:
    decompressed_bytes: int = 2 << 30  # what one gzip stream or one archive may expand to
    array_bytes: int = 512 << 20  # what one declared shape and dtype may imply beyond the bytes its file stores
    array_ratio: int = 16  # a compressed array may expand to this many times its stored bytes (above array_bytes)
    memory_share: float = 0.5  # arrays a file stores may take at most this share of the machine's memory
    members: int = 4096  # members of one archive
    ratio: int = 100  # expansion of one archive member larger than 1 MiB
    nesting: int = 1  # archives read out of archives (a .pt2 inside a bundle .zip)
    folder_pixels: int = 1 << 28  # pixel values (images x C x H x W) of one image folder
    csv_rows: int = 1_000_000  # rows of one CSV table
    metadata_bytes: int = 1 << 20  # a JSON text read whole (meta.json, configs, session records)
    safetensors_header: int = 16 << 20  # a safetensors header
    tensors: int = 65536  # tensors declared by one file
    json_depth: int = 64  # nesting of a JSON value
    model_bytes: int = 2 << 30  # a model file read whole; the parameters a checkpoint's config implies
    child_seconds: float = 10.0  # wall clock of a program run at open time (its load included)
    child_memory: int = 2 << 30  # memory a program run at open time may add to its process

    def lowered(self, text: str) -> "ReadLimits":
        """These limits with the ``field=value`` pairs of ``text`` applied where they are lower."""
        changes = {}
        kinds = {field.name: field.type for field in dataclasses.fields(self)}
        for pair in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = pair.partition("=")
            if name not in kinds:
                continue
            number = float(value) if kinds[name] in (float, "float") else int(value)
            changes[name] = min(number, getattr(self, name))
        return dataclasses.replace(self, **changes)


PRODUCTION = ReadLimits()


def physical_memory() -> int | None:
    """The machine's memory in bytes (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def limits() -> ReadLimits:
    """The caps in force: production's, lowered where ``$GENLOUPE_READ_LIMITS`` says."""
    text = os.environ.get(ENV, "")
    if not text:
        return PRODUCTION
    try:
        return PRODUCTION.lowered(text)
    except ValueError:
        return PRODUCTION

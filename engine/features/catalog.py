"""Every feature extractor as plain values: what it gives, what it takes, where its weights are.

``genloupe features`` prints this and the window's feature menu is built from it; nothing is loaded.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from . import digits_cnn
from .registry import ENTRIES, list_extractors
from .weights import find_weights, where_to_put


@dataclass(frozen=True)
class Description:
    name: str
    dim: str
    accepts: str
    available: bool  # its weights are where it will look (or it needs none)
    weights: str  # where they were found, or how to get them
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def describe(name: str, given_weights: str | os.PathLike | None = None) -> Description:
    entry = ENTRIES[name]
    if name == digits_cnn.NAME:
        return Description(name, entry.dim, entry.accepts, True, f"shipped: {digits_cnn.default_weights_path()}", entry.note)
    if entry.weights is None:
        return Description(name, entry.dim, entry.accepts, True, "none needed", entry.note)
    found = find_weights(entry.weights, given_weights)
    if found is not None and os.path.isfile(found.path):
        return Description(name, entry.dim, entry.accepts, True, f"found ({found.source}): {found.path}", entry.note)
    missing = f"{found.path} ({found.source}) does not exist; " if found is not None else "not found; "
    how = f"{missing}get {entry.weights.how_to_get}, then {where_to_put(entry.weights)}"
    return Description(name, entry.dim, entry.accepts, False, how, entry.note)


def describe_all(given_weights: dict[str, str | None] | None = None) -> list[Description]:
    """The built-ins, the default first; ``given_weights`` maps an extractor to a path passed on the command line."""
    given_weights = given_weights or {}
    return [describe(name, given_weights.get(name)) for name in list_extractors()]


USER_FILES = Description(
    name="FILE.pt2 / FILE.pt", dim="what the network returns (N, d)", accepts="what it was exported for",
    available=True, weights="the file itself; TorchScript (.pt) runs only with --trust-code, prefer torch.export (.pt2)",
)

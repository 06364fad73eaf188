"""A plain-dict description of a dataset: what the CLI prints and the GUI can show."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dataset import Dataset


def describe_dataset(dataset: Dataset, seed: int = 0) -> dict[str, Any]:
    """Source, format, count, shape, levels, value range, split sizes for ``seed``, labels, checksum."""
    splits = dataset.split_indices(seed)
    return {
        "name": dataset.name,
        "source": dataset.source,
        "format": dataset.format,
        "count": len(dataset),
        "shape": list(dataset.shape),
        "levels": dataset.levels,
        "range": [int(dataset.images.min()), int(dataset.images.max())] if len(dataset) else None,
        "seed": seed,
        "splits": {name: len(splits[name]) for name in ("train", "val", "test")},
        "classes": None if dataset.labels is None else int(len(np.unique(dataset.labels))),
        "checksum": dataset.checksum(),
    }

"""Splits on file: GenLoupe's own, written out, and the one a person declares for their model.

A model trained on its author's split must be judged on *its* held-out images: GenLoupe's seeded
80/10/10 split would call some of its training images "held out" (and a likelihood on them looks
better than it is). ``genloupe data SOURCE --split-indices OUT`` writes GenLoupe's split; a person
declares theirs with ``--train-indices FILE``: a JSON object with ``train`` (and optionally ``val``
and ``test``) lists of indices into the source, as written by ``--split-indices``; a JSON list; a
.npy array; or a text file with one index per line. Undeclared ``test`` is every image in neither
``train`` nor ``val``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .dataset import Dataset

MAX_SPLIT_FILE = 256 << 20  # bytes: an index list of tens of millions of images


@dataclass(frozen=True)
class DeclaredSplit:
    """Index arrays per split name, and where they came from (for provenance)."""

    indices: dict[str, np.ndarray]
    path: str
    hash: str

    def provenance(self) -> dict[str, Any]:
        return {"kind": "declared", "path": self.path, "hash": self.hash,
                **{f"n_{name}": int(len(v)) for name, v in self.indices.items() if name != "all"}}


def split_provenance(declared: DeclaredSplit | None, seed: int = 0) -> dict[str, Any]:
    """What 'train' and 'test' meant in a run: the declared file (path, hash), or GenLoupe's seeded split."""
    return declared.provenance() if declared else {"kind": "genloupe", "seed": seed, "fractions": [0.8, 0.1, 0.1]}


def genloupe_split(dataset: Dataset, seed: int = 0) -> dict[str, Any]:
    """GenLoupe's split of ``dataset`` as the JSON document ``--split-indices`` writes."""
    splits = dataset.split_indices(seed)
    return {"source": dataset.source or dataset.name, "checksum": dataset.checksum(), "count": len(dataset),
            "seed": seed, "fractions": [0.8, 0.1, 0.1],
            "recipe": "numpy.random.default_rng(seed).permutation(count): the first round(0.8 count) are train, "
                      "the next round(0.1 count) val, the rest test; each list sorted",
            **{name: splits[name].tolist() for name in ("train", "val", "test")}}


def _parse(path: Path, data: bytes) -> dict[str, Any]:
    if path.suffix.lower() == ".npy":
        try:
            return {"train": np.load(io.BytesIO(data), allow_pickle=False)}
        except (ValueError, OSError, EOFError) as error:
            raise DataError(f"{path.name}: not a readable .npy array ({error})") from None
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("{", "[")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{path.name}: not valid JSON ({error.msg}, line {error.lineno})") from None
        return document if isinstance(document, dict) else {"train": document}
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    try:
        return {"train": [int(line) for line in lines if line]}
    except ValueError:
        raise DataError(f"{path.name}: expected one integer index per line (or JSON, or .npy)") from None


def _indices(values: Any, name: str, count: int, where: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise DataError(f"{where}: '{name}' must be a list of integer indices")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= count):
        raise DataError(f"{where}: '{name}' holds index {int(array.max() if array.max() >= count else array.min())}, "
                        f"outside the source's {count} images (0..{count - 1})")
    if len(np.unique(array)) != len(array):
        raise DataError(f"{where}: '{name}' lists an index more than once")
    return np.sort(array)


def read_split(path: str | Path, dataset: Dataset) -> DeclaredSplit:
    """The split a person declares for ``dataset`` (see the module docstring), checked against it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (the indices of the images the model learnt from)")
    if path.stat().st_size > MAX_SPLIT_FILE:
        raise DataError(f"{path.name}: larger than {MAX_SPLIT_FILE} bytes")
    data = path.read_bytes()
    document = _parse(path, data)
    where, count = path.name, len(dataset)
    if "checksum" in document and document["checksum"] != dataset.checksum():
        raise DataError(f"{where} was written for other data (checksum {str(document['checksum'])[:12]}…, this source "
                        f"{dataset.checksum()[:12]}…): write it again from the data the model learnt from")
    if "train" not in document:
        raise DataError(f"{where}: needs 'train', the indices of the images the model learnt from")
    indices = {name: _indices(document[name], name, count, where) for name in ("train", "val", "test") if name in document}
    if not len(indices["train"]):
        raise DataError(f"{where}: 'train' is empty")
    seen = np.zeros(count, bool)
    for name, values in indices.items():
        if seen[values].any():
            raise DataError(f"{where}: '{name}' shares images with another split; a held-out image cannot be trained on")
        seen[values] = True
    indices.setdefault("val", np.zeros(0, np.int64))
    indices.setdefault("test", np.flatnonzero(~seen))
    indices["all"] = np.arange(count)
    return DeclaredSplit(indices, str(path), "sha256:" + hashlib.sha256(data).hexdigest())

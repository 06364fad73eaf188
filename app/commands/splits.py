"""The images a model learnt from, as the commands take them: GenLoupe's split, or the model's own."""

from __future__ import annotations

import argparse
from typing import Any

from genloupe.engine.data import Dataset, DeclaredSplit, read_split


def add_train_indices(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-indices", default=None, metavar="FILE",
                        help="indices (into the data source) of the images the model learnt from: JSON as written by "
                        "`genloupe data SOURCE --split-indices`, a JSON list, .npy or one index per line; held-out "
                        "('test') becomes every other image (see the README's splits)")


def declared_split(args: argparse.Namespace, data: Dataset) -> DeclaredSplit | None:
    return read_split(args.train_indices, data) if args.train_indices else None


def split_provenance(declared: DeclaredSplit | None, seed: int = 0) -> dict[str, Any]:
    """What 'train' and 'test' meant in a run: the declared file (path, hash), or GenLoupe's seeded split."""
    return declared.provenance() if declared else {"kind": "genloupe", "seed": seed, "fractions": [0.8, 0.1, 0.1]}

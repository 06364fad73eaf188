"""The images a model learnt from, as the commands take them: GenLoupe's split, or the model's own."""

from __future__ import annotations

import argparse
from genloupe.engine.data import Dataset, DeclaredSplit, read_split, split_provenance

__all__ = ["add_train_indices", "declared_split", "split_provenance"]


def add_train_indices(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-indices", default=None, metavar="FILE",
                        help="indices (into the data source) of the images the model learnt from: JSON as written by "
                        "`genloupe data SOURCE --split-indices`, a JSON list, .npy or one index per line; held-out "
                        "('test') becomes every other image (see the README's splits)")


def declared_split(args: argparse.Namespace, data: Dataset) -> DeclaredSplit | None:
    return read_split(args.train_indices, data) if args.train_indices else None


"""``genloupe open PATH``: the window on a checkpoint or a session file."""

from __future__ import annotations

import argparse
from pathlib import Path

from genloupe.engine.errors import GenLoupeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("open", help="open the window on a checkpoint or a session file")
    parser.add_argument("path", help="checkpoint (any supported format; PATH#head picks a head) or .genloupe session")
    parser.add_argument("--reference", default=None, help="reference data source (default: the embedded digits)")
    parser.add_argument("--train-indices", default=None, metavar="FILE",
                        help="indices of the reference images the model learnt from (see `genloupe evaluate --help`)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not Path(args.path.partition("#")[0]).exists():
        raise GenLoupeError(f"{args.path}: no such file or folder")
    from genloupe.app.main_window import run_app

    return run_app(args.path, args.reference, args.train_indices)

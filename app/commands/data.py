"""``genloupe data SOURCE``: say what a data source holds, as text or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from genloupe.app.commands.outputs import check_output_paths
from genloupe.engine.data import describe_dataset, genloupe_split, open_data


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="describe a data source: format, count, shape, levels, splits, checksum",
        description="Open a data source the way every other command does and describe it.",
    )
    parser.add_argument(
        "source",
        nargs="?",
        default=None,
        help="'digits' (the default), a folder of PNG/JPEG images, a .npy/.npz array, "
        "an MNIST IDX images file, or a CIFAR-10 .bin batch or batches folder",
    )
    parser.add_argument("--levels", type=int, default=None, help="pixel levels L (default: the source's own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--split-indices", type=Path, default=None, metavar="OUT",
                        help="write GenLoupe's train/val/test split (indices into the source) as JSON to OUT")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.split_indices)
    dataset = open_data(args.source, levels=args.levels)
    summary = describe_dataset(dataset, seed=args.seed)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    if args.split_indices is not None:
        args.split_indices.write_text(json.dumps(genloupe_split(dataset, args.seed)))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    channels, height, width = summary["shape"]
    splits = summary["splits"]
    low, high = summary["range"]
    rows = [
        ("source", summary["source"]),
        ("format", summary["format"]),
        ("images", f"{summary['count']} of {channels}x{height}x{width} (C x H x W)"),
        ("levels", f"{summary['levels']} (values {low}..{high})"),
        ("splits", f"train {splits['train']}, val {splits['val']}, test {splits['test']} (seed {summary['seed']})"),
        ("labels", "none" if summary["classes"] is None else f"{summary['classes']} classes"),
        ("checksum", summary["checksum"]),
    ]
    return "\n".join(f"{key:<9}{value}" for key, value in rows)

"""``genloupe features``: every feature extractor, its dimension, what it takes, where its weights are."""

from __future__ import annotations

import argparse
import json

from genloupe.engine.features.catalog import USER_FILES, Description, describe_all


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="list the feature extractors: dimension, accepted images, where their weights were found",
        description="List every feature extractor and where its weights were found, or how to get them. "
        "Nothing is downloaded: weights are looked for where a flag, an environment variable or torch hub's "
        "checkpoints folder ($TORCH_HOME/hub/checkpoints) puts them.",
    )
    parser.add_argument("--inception-weights", default=None, help="check this inception-fid weights file")
    parser.add_argument("--dinov2-weights", default=None, help="check this dinov2 weights file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def format_entry(entry: Description) -> str:
    rows = [("gives", entry.dim), ("takes", entry.accepts),
            ("weights", entry.weights if entry.available else f"MISSING: {entry.weights}")]
    if entry.note:
        rows.append(("note", entry.note))
    return "\n".join([entry.name] + [f"  {key:<8}{value}" for key, value in rows])


def run(args: argparse.Namespace) -> int:
    entries = describe_all({"inception-fid": args.inception_weights, "dinov2": args.dinov2_weights})
    if args.json:
        print(json.dumps([entry.to_dict() for entry in entries + [USER_FILES]], indent=1))
        return 0
    print("\n\n".join(format_entry(entry) for entry in entries + [USER_FILES]))
    print("\nDefault (--features auto): digits-cnn for 1x8x8 data; otherwise inception-fid when its weights are "
          "found; otherwise pixels. pixels:D projects the pixels to D dimensions.")
    return 0

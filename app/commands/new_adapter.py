"""``genloupe new-adapter OUT.py``: a commented adapter template that runs as written, to fill in."""

from __future__ import annotations

import argparse
import re
from importlib import resources
from pathlib import Path

from genloupe.app.commands.outputs import check_output_paths
from genloupe.engine.errors import GenLoupeError

TEMPLATE = ("examples", "adapter_template.py")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-adapter", help="write a commented adapter template (a .py bridging your model to GenLoupe)",
        description="Write an adapter that runs as written (an untrained per-pixel model) and says, in comments, "
        "everything GenLoupe expects of your model. Replace the model with yours, then "
        "`genloupe info OUT.py --trust-code`.")
    parser.add_argument("out", type=Path, help="the adapter file to write (.py); an existing file is not overwritten")
    parser.add_argument("--shape", default="1,8,8", help="C,H,W of one image (default 1,8,8: the digits)")
    parser.add_argument("--levels", type=int, default=17, help="pixel levels L of the data (default 17: the digits)")
    parser.set_defaults(run=run)


def template(shape: tuple[int, int, int], levels: int) -> str:
    text = resources.files("genloupe.assets").joinpath(*TEMPLATE).read_text(encoding="utf-8")
    text = re.sub(r"^DATA_SHAPE = \(1, 8, 8\)", f"DATA_SHAPE = {shape}", text, count=1, flags=re.M)
    return re.sub(r"^LEVELS = 17", f"LEVELS = {levels}", text, count=1, flags=re.M)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.out)
    if args.out.suffix != ".py":
        raise GenLoupeError(f"{args.out}: an adapter is a Python file; give a name ending in .py")
    if args.out.exists():
        raise GenLoupeError(f"{args.out} exists; GenLoupe does not overwrite it (give another name)")
    try:
        shape = tuple(int(s) for s in args.shape.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise GenLoupeError(f"--shape must be three positive integers C,H,W, got {args.shape!r}")
    if not 2 <= args.levels <= 65536:
        raise GenLoupeError(f"--levels must be between 2 and 65536, got {args.levels}")
    args.out.write_text(template(shape, args.levels), encoding="utf-8")
    print(f"wrote {args.out}: fill in your model, then `genloupe info {args.out} --trust-code`")
    return 0

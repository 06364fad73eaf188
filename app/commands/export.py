"""``genloupe export CKPT --out BUNDLE``: a torch.export bundle any GenLoupe opens without trusting code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genloupe.engine.checkpoints import export_bundle, load_raw
from genloupe.engine.checkpoints.export_bundle import DEFAULT_BATCH


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a torch.export bundle (folder or .zip) of a zoo checkpoint or a trusted adapter's model",
        description="Export a model as log_prob.pt2, sample.pt2 and meta.json. The bundle is reopened and "
        "compared with the model (same samples and log-likelihoods for one seed) before it counts as written.",
    )
    parser.add_argument("checkpoint",
                        help="a GenLoupe checkpoint, or an adapter .py with --trust-code; PATH#head picks a head")
    parser.add_argument("--out", type=Path, required=True, help="bundle to write: a folder, or a file ending in .zip")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"fixed batch of the programs (default {DEFAULT_BATCH})")
    parser.add_argument("--k", type=int, default=None, help="draws of a bound estimator (IWAE-K; default the model's K)")
    parser.add_argument("--trust-code", action="store_true", help="allow a Python adapter file to run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model, _, _, _ = load_raw(args.checkpoint, trust_code=args.trust_code)
    result = export_bundle(model, args.out, batch=args.batch, k=args.k)
    checks = [f"samples agree to {result.sample_difference:.1g}"]
    if result.log_prob_difference is not None:
        checks.append(f"log-likelihoods to {result.log_prob_difference:.1g} nats")
    print(f"wrote {result.path} ({model.info.name}); reopened and checked: {', '.join(checks)}")
    for text in result.warnings:
        print(f"genloupe export: warning: {text}", file=sys.stderr)
    return 0

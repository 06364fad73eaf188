"""``genloupe likelihood CKPT --data SOURCE``: per-sample log P(x) and mean bits/dim with its convention."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genloupe.app.commands.outputs import check_output_paths
from genloupe.app.commands.splits import add_train_indices, declared_split, split_provenance
from genloupe.app.progress_bar import terminal_progress
from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.likelihood import evaluate_likelihood


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("likelihood", help="per-sample log-likelihood of a data split under a model")
    parser.add_argument("checkpoint", help="model file (any supported format; PATH#head picks a head)")
    parser.add_argument("--data", default="digits", help="data source (default: the embedded digits)")
    parser.add_argument("--levels", type=int, default=None, help="levels L of the data (default: inferred)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/val/test split")
    add_train_indices(parser)
    parser.add_argument("--k-deq", type=int, default=8, help="dequantization draws for continuous densities")
    parser.add_argument("--k", type=int, default=None, help="K of bound estimators (IWAE-K; default the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--trust-code", action="store_true", help="allow Python adapter files to run")
    parser.add_argument("--json", type=Path, default=None, help="write per-sample values and the mean to this file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json)
    model = open_model(args.checkpoint, trust_code=args.trust_code)
    for text in model.info.extra.get("warnings", []):
        print(f"genloupe likelihood: warning: {text}", file=sys.stderr)
    source = open_data(args.data, levels=args.levels)
    declared = declared_split(args, source)
    data = source.split(args.split, seed=args.split_seed, declared=declared.indices if declared else None)
    result = evaluate_likelihood(
        model,
        data.images,
        data.levels,
        k_deq=args.k_deq,
        k_bound=args.k,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        progress=terminal_progress(),
    )
    print(f"{model.info.name} on {data.name} (n={len(data)}): {result.mean_bpd:.4f} bits/dim, "
          f"{result.mean_nats:.2f} nats per image")
    print(f"convention: {result.convention.describe()}")
    if args.json is not None:
        payload = {
            "model": model.info.to_dict(),
            "data": {"name": data.name, "n": len(data), "checksum": data.checksum(), "split": args.split,
                     "split_from": split_provenance(declared, args.split_seed)},
            "mean_bpd": result.mean_bpd,
            "mean_nats": result.mean_nats,
            "convention": result.convention.to_dict(),
            "log_px": result.log_px.tolist(),
            "bpd": result.bpd.tolist(),
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0

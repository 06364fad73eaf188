"""Rebuild the demo checkpoints: ``python -m genloupe.assets.build_demo [--out DIR] [FAMILY ...]``.

Trains every zoo family on the digits train split (seed-0 split, early stopping on its validation
split) with fixed seeds on the CPU, writes ``assets/demo/FAMILY.pt``, and prints test bits/dim and
training time per family. Single-threaded and with deterministic algorithms, so a rerun on the
same torch version writes the same weights.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from genloupe.engine.checkpoints.zoo import save_checkpoint
from genloupe.engine.data import open_data
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.progress import null_progress
from genloupe.engine.training import train_model

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_FAMILIES = ("gaussian", "mixture", "flow", "autoregressive", "vaegan")
SPLIT_SEED = 0
TRAIN_SEED = 0


def build(families: tuple[str, ...] = DEMO_FAMILIES, out: Path = DEMO_DIR) -> list[dict]:
    """Train, save and evaluate each family; one row of figures per family."""
    torch.set_num_threads(1)  # tiny models: one thread is faster than two contended ones, and reproducible
    torch.use_deterministic_algorithms(True)
    data = open_data("digits")
    train, val, test = (data.split(name, seed=SPLIT_SEED) for name in ("train", "val", "test"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"digits test split ({len(test)} images, seed {SPLIT_SEED}); "
          f"uniform baseline {math.log2(data.levels):.3f} bits/dim", flush=True)
    rows = []
    for family in families:
        model, report = train_model(family, train, val, seed=TRAIN_SEED, device="cpu", progress=null_progress())
        path = save_checkpoint(model, out / f"{family}.pt")
        result = evaluate_likelihood(model, test.images, test.levels, seed=0, device="cpu")
        rows.append({
            "family": family,
            "test_bpd": result.mean_bpd,
            "test_bpd_plain": None if result.log_px_plain is None
            else float(-result.log_px_plain.mean() / (result.convention.dims * math.log(2))),
            "estimate": result.convention.describe(),
            "epochs": report.epochs,
            "seconds": report.seconds,
            "kib": path.stat().st_size / 1024,
        })
        print(_format_row(rows[-1]), flush=True)
    return rows


def _format_row(row: dict) -> str:
    epochs = "-" if row["epochs"] is None else str(row["epochs"])
    plain = "" if row["test_bpd_plain"] is None else f"{row['test_bpd_plain']:.3f}"
    return (f"{row['family']:<15} test bpd {row['test_bpd']:6.3f}  plain deq. bound {plain:>6}  "
            f"epochs {epochs:>4}  {row['seconds']:6.1f} s  {row['kib']:5.0f} KiB  [{row['estimate']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genloupe.assets.build_demo", description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=list(DEMO_FAMILIES), help="families to build (default: all)")
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help=f"output folder (default {DEMO_DIR})")
    args = parser.parse_args(argv)
    build(tuple(args.families), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

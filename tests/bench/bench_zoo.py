"""Benchmark of the zoo at a real shape: each convolutional architecture against its MLP variant on the
28x28 stand-in (assets/standins/digits28.npz, 256 levels), at the same training budget: the same
epochs over the same training images (seed-0 split), so the figures show what each architecture buys
per epoch and what an epoch costs it. The diagonal Gaussian's closed-form fit is the baseline.

    python tests/bench/bench_zoo.py [--device cpu|cuda] [--epochs 2] [--train 1000] [--heldout 300]
                                    [--samples 4] [--repeats 3] [--runs 1] [--threads N] [--json OUT]

Per model: held-out bits/dim by ``evaluate_likelihood`` (the engine's convention, printed with it:
exact for the discrete PixelCNN and MADE, the K=8 importance-weighted dequantization bound for flows,
IWAE-K for the hybrid's VAE head), training images/s (epochs x training images / wall time of
``train_model``, validation passes included; each model first warms up, untimed, on 32 images), likelihood images/s, and sampling images/s (median of
``--repeats`` timed calls of ``sample``). With ``--runs R`` every model is trained R times (seeds
0..R-1) and each figure is the median over runs. Runs unchanged on a GPU (``--device cuda``); the
project need not be installed there (the engine is imported from this checkout).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_metrics  # noqa: E402,F401  (makes genloupe.engine importable from this checkout)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genloupe.engine.data import Dataset, open_data  # noqa: E402
from genloupe.engine.device import resolve_device  # noqa: E402
from genloupe.engine.likelihood import evaluate_likelihood  # noqa: E402
from genloupe.engine.training import train_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "assets" / "standins" / "digits28.npz"
# (label, family, config overrides): each conv architecture next to its MLP variant. MADE leaves out its
# direct layer, a (256*784) x 784 matrix of 157 million weights at this shape.
MODELS: list[tuple[str, str, dict[str, Any]]] = [
    ("gaussian (closed form)", "gaussian", {}),
    ("flow mlp", "flow", {}),
    ("flow conv", "flow", {"arch": "conv"}),
    ("autoregressive mlp", "autoregressive", {"direct": False}),
    ("autoregressive conv", "autoregressive", {"arch": "conv"}),
    ("vaegan mlp", "vaegan", {}),
    ("vaegan conv", "vaegan", {"arch": "conv"}),
]


def splits(train_n: int, heldout_n: int) -> tuple[Dataset, Dataset, Dataset]:
    data = open_data(STANDIN)
    train, val, test = (data.split(name, seed=0) for name in ("train", "val", "test"))
    return (train.subset(np.arange(min(train_n, len(train)))), val.subset(np.arange(min(heldout_n, len(val)))),
            test.subset(np.arange(min(heldout_n, len(test)))))


def timed(call: Callable[[], Any], device: torch.device) -> float:
    """Wall seconds of ``call``, waiting for the GPU's queue on both ends."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def one_run(family: str, config: dict[str, Any], data: tuple[Dataset, Dataset, Dataset], args: argparse.Namespace,
            seed: int, device: torch.device) -> dict[str, Any]:
    train, val, test = data
    settings = {"patience": args.epochs} if family != "gaussian" else {}  # every epoch runs: the same budget
    model, report = train_model(family, train, val, config={**config, **settings}, epochs=args.epochs, seed=seed,
                                device=device)
    started = time.perf_counter()
    result = evaluate_likelihood(model, test.images, test.levels, k_bound=args.k_bound, seed=seed, device=device)
    likelihood_seconds = time.perf_counter() - started
    generator = torch.Generator(device=device)
    with torch.inference_mode():
        sample_seconds = statistics.median(
            timed(lambda: model.sample(args.samples, generator.manual_seed(seed)), device) for _ in range(args.repeats)
        )
    epochs = 1 if family == "gaussian" else args.epochs  # the closed form is one pass; the hybrid's fit reports none
    return {
        "name": model.info.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": epochs,
        "train_seconds": report.seconds,
        "train_images_per_s": epochs * len(train) / report.seconds,
        "heldout_bpd": result.mean_bpd,
        "convention": result.convention.describe(),
        "likelihood_images_per_s": len(test) / likelihood_seconds,
        "sample_images_per_s": args.samples / sample_seconds,
    }


def warm_up(family: str, config: dict[str, Any], data: tuple[Dataset, Dataset, Dataset], device: torch.device) -> None:
    """One epoch on a few images and a likelihood pass, not timed: torch's first calls of each kind of
    layer (lazy initialization, kernel selection on the GPU) would otherwise land in the first model's figures."""
    train, val, test = (part.subset(np.arange(min(32, len(part)))) for part in data)
    model, _ = train_model(family, train, val, config=config, epochs=1, device=device)
    evaluate_likelihood(model, test.images, test.levels, k_bound=2, device=device)


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure's median over runs; the rest from the first run."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            out[key] = statistics.median(run[key] for run in runs)
    out["runs"] = len(runs)
    return out


def compare(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Conv against MLP per family: bits/dim gained, and the speed ratios (conv / mlp)."""
    pairs = []
    for family in ("flow", "autoregressive", "vaegan"):
        mlp, conv = rows.get(f"{family} mlp"), rows.get(f"{family} conv")
        if mlp is None or conv is None:
            continue
        pairs.append({
            "family": family,
            "heldout_bpd_mlp": mlp["heldout_bpd"],
            "heldout_bpd_conv": conv["heldout_bpd"],
            "bpd_gain_conv": mlp["heldout_bpd"] - conv["heldout_bpd"],
            "train_speed_conv_over_mlp": conv["train_images_per_s"] / mlp["train_images_per_s"],
            "sample_speed_conv_over_mlp": conv["sample_images_per_s"] / mlp["sample_images_per_s"],
        })
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of every model (default 2)")
    parser.add_argument("--train", type=int, default=1000, help="training images (default 1000)")
    parser.add_argument("--heldout", type=int, default=300, help="validation and held-out test images each (default 300)")
    parser.add_argument("--samples", type=int, default=4, help="images per timed sampling call (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed sampling calls per model (default 3)")
    parser.add_argument("--runs", type=int, default=1, help="trainings per model, seeds 0..R-1 (default 1)")
    parser.add_argument("--k-bound", type=int, default=16, help="IWAE draws for the hybrid's bound (default 16)")
    parser.add_argument("--only", default="", help="comma-separated labels to run (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = splits(args.train, args.heldout)
    chosen = [m for m in MODELS if not args.only or m[0] in args.only.split(",")]
    rows = {}
    for label, family, config in chosen:
        warm_up(family, config, data, device)
        runs = [one_run(family, config, data, args, seed, device) for seed in range(args.runs)]
        rows[label] = {"label": label, "family": family, "arch": config.get("arch", "mlp"), **medians(runs)}
        print(json.dumps(rows[label]), file=sys.stderr, flush=True)
    document = {
        "benchmark": "zoo at 1x28x28, 256 levels: conv vs mlp at the same epochs",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "data": {"source": str(STANDIN.relative_to(ROOT)), "train": len(data[0]), "val": len(data[1]),
                 "heldout": len(data[2])},
        "budget": {"epochs": args.epochs, "same": "epochs over the same training images"},
        "settings": {"samples": args.samples, "repeats": args.repeats, "runs": args.runs, "k_bound": args.k_bound},
        "models": list(rows.values()),
        "conv_vs_mlp": compare(rows),
    }
    text = json.dumps(document, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``genloupe train FAMILY --data SOURCE --out CKPT``: train a zoo family and write its checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genloupe.app.progress_bar import terminal_progress
from genloupe.engine.checkpoints.zoo import SUFFIXES, save_checkpoint
from genloupe.engine.data import open_data
from genloupe.engine.errors import CheckpointError, ModelError
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.training import family_class, train_model

SPLIT_SEED = 0  # the data split every command shares; --seed only drives training


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model-zoo family (gaussian, mixture, flow, autoregressive, vaegan) and save it",
        description="Train a family of GenLoupe's model zoo on the train split with early stopping on the "
        "validation split, write the checkpoint, and print validation and test bits/dim.",
    )
    parser.add_argument("family", help="gaussian, mixture, flow, autoregressive or vaegan")
    parser.add_argument("--data", default=None, help="data source (default: the embedded digits)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write: .pt or .safetensors")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the family's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialization, shuffling and noise (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument(
        "--config",
        default=None,
        help='JSON object overriding the family\'s config and training settings, e.g. \'{"hidden": 64, "lr": 0.001}\'; '
        '\'{"arch": "conv"}\' picks the convolutional variant of flow, autoregressive and vaegan',
    )
    parser.add_argument("--save-every", type=int, default=None, metavar="N",
                        help="also keep a checkpoint every N epochs (and at the last), named OUT-epochNNNN, "
                        "with its epoch inside: `genloupe compare FOLDER` draws the trajectory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() not in SUFFIXES:
        raise CheckpointError(f"{args.out}: --out must end in .pt or .safetensors")
    if not args.out.parent.is_dir():  # refused before training, not after it
        raise CheckpointError(f"{args.out}: the folder {args.out.parent} does not exist")
    config = parse_config(args.config)
    family_class(args.family, config.get("arch"))  # fail before the data are read
    data = open_data(args.data)
    train, val, test = (data.split(name, seed=SPLIT_SEED) for name in ("train", "val", "test"))
    kept: list[Path] = []

    def keep(snapshot, row: dict) -> None:  # --save-every: the model as it is at this epoch
        kept.append(save_checkpoint(snapshot, epoch_path(args.out, int(row["epoch"]))))

    model, report = train_model(
        args.family, train, val, config=config, epochs=args.epochs, seed=args.seed, device=args.device,
        progress=terminal_progress(f"{args.family} "), save_every=args.save_every, on_checkpoint=keep,
    )
    save_checkpoint(model, args.out)
    result = evaluate_likelihood(model, test.images, test.levels, seed=args.seed, device=args.device)
    epochs = "" if report.epochs is None else f", {report.epochs} epochs (best {report.best_epoch})"
    print(f"wrote {args.out} ({model.info.name}{epochs}, {report.seconds:.1f} s)")
    if kept:
        print(f"kept {len(kept)} checkpoints: {', '.join(path.name for path in kept)}")
    print(f"val  bits/dim {report.best_val_bpd:.4f}  (training objective on {len(val)} images)")
    print(f"test bits/dim {result.mean_bpd:.4f}  ({len(test)} images; {result.convention.describe()})")
    return 0


def epoch_path(out: Path, epoch: int) -> Path:
    """Where the checkpoint of ``epoch`` goes: beside OUT, the epoch in its name."""
    return out.with_name(f"{out.stem}-epoch{epoch:04d}{out.suffix}")


def parse_config(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"--config is not valid JSON ({error.msg} at character {error.pos})") from error
    if not isinstance(config, dict):
        raise ModelError("--config must be a JSON object such as '{\"hidden\": 64}'")
    return config

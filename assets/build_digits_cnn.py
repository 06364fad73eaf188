"""Rebuild the embedded `digits-cnn` weights: ``python -m genloupe.assets.build_digits_cnn``.

Trains on the digits train split (open_data(None).split("train", seed=0)) on the CPU with a fixed
seed, reports accuracy on the test split, and writes safetensors with the recipe in its metadata.
It trains on one thread, so reruns give the same file whatever the core count; another CPU
(instruction set, BLAS) may differ in the last bits of the weights.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from genloupe.engine.data import Dataset, open_data
from genloupe.engine.features.digits_cnn import DigitsCNN, default_weights_path

EPOCHS = 40
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
SHIFT = 1  # augmentation: random translation by up to this many pixels


def _tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    assert dataset.labels is not None, "the digits have labels"
    return torch.from_numpy(dataset.as_float()), torch.from_numpy(dataset.labels.astype(np.int64))


def _shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to SHIFT pixels (zero fill): digits are not always centred."""
    n, _, h, w = x.shape
    padded = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT))
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def train_digits_cnn(train: Dataset, *, epochs: int = EPOCHS, seed: int = 0) -> DigitsCNN:
    """Adam with cosine decay and shift augmentation; deterministic for a given seed and machine."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = _tensors(train)
    model = DigitsCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = -(-len(x) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            _, logits = model(_shift(x[index], generator))
            loss = F.cross_entropy(logits, y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def accuracy(model: DigitsCNN, dataset: Dataset) -> float:
    x, y = _tensors(dataset)
    with torch.inference_mode():
        _, logits = model(x)
    return float((logits.argmax(dim=1) == y).double().mean())


def build(out: str, *, epochs: int = EPOCHS, seed: int = 0) -> dict[str, str]:
    """Train, evaluate and write the weights; returns the recipe stored in the file's metadata."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # sums split across threads would make the bits depend on the core count
    try:
        digits = open_data(None)
        train, test = digits.split("train", seed=0), digits.split("test", seed=0)
        model = train_digits_cnn(train, epochs=epochs, seed=seed)
    finally:
        torch.set_num_threads(threads)
    recipe = {
        "format": "genloupe-digits-cnn",
        "version": "1",
        "data": f"digits train split (seed 0, {len(train)} images, checksum {digits.checksum()[:16]})",
        "epochs": str(epochs),
        "seed": str(seed),
        "train_accuracy": f"{accuracy(model, train):.4f}",
        "test_accuracy": f"{accuracy(model, test):.4f}",
        "test_images": str(len(test)),
        "torch": torch.__version__,
    }
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    # one metadata entry: safetensors writes several in arbitrary order, and the file hash matters
    save_file(state, out, metadata={"genloupe": json.dumps(recipe, sort_keys=True)})
    return recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genloupe.assets.build_digits_cnn", description=__doc__)
    parser.add_argument("--out", default=default_weights_path(), help="safetensors file to write")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    recipe = build(args.out, epochs=args.epochs, seed=args.seed)
    print(json.dumps({"out": args.out, **recipe}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

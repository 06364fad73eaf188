"""Train a zoo family on a dataset: Adam on minibatches, early stopping on the validation split.

The loop is generic: each family supplies ``training_loss(x, generator)`` in nats per dimension
(-log P(x)/D for discrete models, the dequantized -log p(y)/D + ln L for continuous ones), so the
validation loss divided by ln 2 is bits/dim on the engine's scale. A family may also supply
``init_from_data(x, generator)`` (data-dependent initialization, called once before training) and a
class attribute ``training_defaults`` (its own learning rate, patience, ...), or a classmethod
``fit`` that replaces the loop altogether (the hybrid does).

Deterministic for a seed on the CPU: weights are initialized under a forked global RNG seeded with
``seed``, and shuffling and noise come from explicit generators.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .data.dataset import Dataset
from .device import resolve_device
from .errors import DataError, ModelError
from .models.zoo import ZooModel, model_class
from .progress import Progress, null_progress

LN2 = math.log(2.0)
VALIDATION_BATCH = 512

# Config keys the generic loop takes out of the config before building the model.
TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 200,  # at most; early stopping usually ends sooner
    "patience": 15,  # epochs without a better validation loss before stopping
    "batch_size": 64,
    "lr": 1e-3,
    "weight_decay": 0.0,
}


@dataclass(frozen=True)
class TrainReport:
    """What a training run did. ``history`` holds one dict per epoch (train and val bits/dim)."""

    family: str
    epochs: int | None  # epochs run (None when the family's own ``fit`` trained it)
    best_epoch: int | None
    best_val_bpd: float  # the family's training loss on the validation split, in bits/dim
    seconds: float
    seed: int
    device: str
    settings: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_model(
    family: str,
    train: Dataset,
    val: Dataset,
    *,
    config: dict[str, Any] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: Progress | None = None,
    save_every: int | None = None,
    on_checkpoint: Callable[[ZooModel, dict[str, float]], None] | None = None,
) -> tuple[ZooModel, TrainReport]:
    """A trained model of ``family`` (eval mode, best validation weights) and its report.

    ``config`` overrides the family's ``default_config`` and may carry the loop's settings
    (:data:`TRAINING_DEFAULTS`, then the family's ``training_defaults``); ``epochs`` overrides the
    configured maximum. The config key ``arch`` picks the family's architecture (default ``mlp``). With
    ``save_every`` = N, ``on_checkpoint(model, row)`` gets the model as it is after every N-th epoch (its
    ``train_info`` carries that epoch and its bits/dim) and after the last.
    """
    progress = progress or null_progress()
    cls = family_class(family, (config or {}).get("arch"))
    _check_data(train, val)
    defaults = cls.default_config(train.shape, train.levels)
    merged = {**defaults, **(config or {})}
    _check_config(cls, merged, defaults, train)
    merged.pop("arch", None)  # picked the class; a conv model writes it into its own config
    target = resolve_device(device)
    started = time.perf_counter()
    if hasattr(cls, "fit") and save_every is not None:
        raise ModelError(f"{family} is not trained epoch by epoch, so it has no checkpoints to save every N epochs")
    if hasattr(cls, "fit"):
        model = cls.fit(train, val, config=merged, epochs=epochs, seed=seed, device=target, progress=progress)
        report_epochs, best_epoch, history, settings = None, None, [], {}
    else:
        defaults = {**TRAINING_DEFAULTS, **getattr(cls, "training_defaults", {})}
        settings = {key: merged.pop(key, value) for key, value in defaults.items()}
        if epochs is not None:
            settings["epochs"] = int(epochs)
        if settings["epochs"] < 1:
            raise ModelError(f"training needs at least one epoch, got {settings['epochs']}")
        saver = _checkpoint_saver(train, family, seed, save_every, on_checkpoint)
        model, history = _fit(cls, train, val, merged, settings, seed, target, progress, saver)
        best = min(history, key=lambda row: row["val_bpd"])
        report_epochs, best_epoch = len(history), int(best["epoch"])
    seconds = time.perf_counter() - started
    report = TrainReport(
        family=family,
        epochs=report_epochs,
        best_epoch=best_epoch,
        best_val_bpd=validation_bpd(model, val, seed),
        seconds=seconds,
        seed=seed,
        device=str(target),
        settings=settings,
        history=history,
    )
    model.train_info = {  # travels with the model into its checkpoint; no timings, so rebuilds are byte-identical
        "data": train.name,
        "data_checksum": train.checksum(),
        "levels": train.levels,
        **{key: value for key, value in report.to_dict().items() if key not in ("history", "seconds")},
    }
    return model.eval(), report


def family_class(family: str, arch: Any = None) -> type[ZooModel]:
    """The registered class of ``family`` in architecture ``arch``; a ModelError naming the known ones otherwise."""
    return model_class(family, arch)


def validation_bpd(model: ZooModel, data: Dataset, seed: int = 0) -> float:
    """The family's training loss over ``data`` in bits/dim, with the same noise on every call."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed + 1)
    images = torch.as_tensor(data.images.astype(np.int64), device=device)
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), VALIDATION_BATCH):
            batch = images[start : start + VALIDATION_BATCH]
            total += float(model.training_loss(batch, generator)) * len(batch)
    model.train(was_training)
    return total / len(images) / LN2


def _check_config(cls: type[ZooModel], config: dict[str, Any], defaults: dict[str, Any], train: Dataset) -> None:
    """Unknown keys, and a data shape or levels other than the data's, are one-line errors."""
    known = set(defaults) | set(TRAINING_DEFAULTS) | set(getattr(cls, "training_defaults", {})) | {"arch"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ModelError(f"unknown {cls.family} config keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if list(config.get("data_shape", train.shape)) != list(train.shape) or config.get("levels", train.levels) != train.levels:
        raise ModelError(f"the config's data_shape/levels must match the data: {list(train.shape)} on {train.levels} levels")


def _fit(
    cls: type[ZooModel],
    train: Dataset,
    val: Dataset,
    config: dict[str, Any],
    settings: dict[str, Any],
    seed: int,
    device: torch.device,
    progress: Progress,
    saver: Callable[[ZooModel, dict[str, float], bool], None] | None = None,
) -> tuple[ZooModel, list[dict[str, float]]]:
    """The generic loop: returns the model at its best validation epoch and the per-epoch history."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:  # a wrong type in --config
            raise ModelError(f"the {cls.family} config does not build a model ({error})") from None
    model.to(device)
    noise = torch.Generator(device=device)
    noise.manual_seed(seed)
    shuffle = torch.Generator()
    shuffle.manual_seed(seed + 2)
    images = torch.as_tensor(train.images.astype(np.int64), device=device)
    if hasattr(model, "init_from_data"):
        model.init_from_data(images, noise)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    batch_size = max(1, min(int(settings["batch_size"]), len(images)))
    per_epoch = math.ceil(len(images) / batch_size)
    total = settings["epochs"] * per_epoch
    best_bpd, best_state, waited = math.inf, copy.deepcopy(model.state_dict()), 0
    history: list[dict[str, float]] = []
    progress.update(0, total, "train")
    for epoch in range(settings["epochs"]):
        model.train()
        order = torch.randperm(len(images), generator=shuffle).to(device)
        running = 0.0
        for step in range(per_epoch):
            progress.check()
            batch = images[order[step * batch_size : (step + 1) * batch_size]]
            loss = model.training_loss(batch, noise)
            if not torch.isfinite(loss):
                raise ModelError(
                    f"{cls.family}: training loss became {float(loss)} in epoch {epoch + 1}; "
                    "try a lower learning rate (--config '{\"lr\": ...}')"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach()) * len(batch)
            seen = min((step + 1) * batch_size, len(images))
            progress.update(epoch * per_epoch + step + 1, total,
                            f"train · epoch {epoch + 1} · loss {running / seen / LN2:.3f} bits/dim")
        val_bpd = validation_bpd(model, val, seed)
        history.append({"epoch": epoch + 1, "train_bpd": running / len(images) / LN2, "val_bpd": val_bpd})
        if val_bpd < best_bpd:
            best_bpd, best_state, waited = val_bpd, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
        stopping = waited >= settings["patience"] or epoch + 1 == settings["epochs"]
        if saver is not None:
            saver(model, history[-1], stopping)
        if waited >= settings["patience"]:
            done = (epoch + 1) * per_epoch  # stopped early: the bar ends at what was done, not at the plan
            progress.update(done, done, f"train · stopped early at epoch {epoch + 1} of {settings['epochs']} · "
                            f"best val {best_bpd:.3f} bits/dim")
            break
    model.load_state_dict(best_state)
    return model, history


def _checkpoint_saver(train: Dataset, family: str, seed: int, every: int | None,
                      on_checkpoint: Callable[[ZooModel, dict[str, float]], None] | None,
                      ) -> Callable[[ZooModel, dict[str, float], bool], None] | None:
    """Hands the model to ``on_checkpoint`` every ``every`` epochs and at the last one, tagged with its epoch."""
    if every is None or on_checkpoint is None:
        return None
    if every < 1:
        raise ModelError(f"checkpoints are saved every N >= 1 epochs, got {every}")

    def save(model: ZooModel, row: dict[str, float], last: bool) -> None:
        if row["epoch"] % every == 0 or last:
            model.train_info = {"data": train.name, "data_checksum": train.checksum(), "levels": train.levels,
                                "family": family, "seed": seed, **row}
            on_checkpoint(model, row)

    return save


def _check_data(train: Dataset, val: Dataset) -> None:
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"training needs training and validation images (got {len(train)} and {len(val)})")
    if train.shape != val.shape or train.levels != val.levels:
        raise DataError(
            f"{val.name}: images {val.shape} on {val.levels} levels differ from "
            f"{train.name}: {train.shape} on {train.levels} levels"
        )

"""The generic training loop on real digits: determinism, early stopping, best state, progress and
cancel, configs, and delegation to a family's own ``fit``. Tiny models and few epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genloupe.engine.data import Dataset, open_data
from genloupe.engine.errors import Cancelled, DataError, ModelError
from genloupe.engine.progress import TaskProgress
from genloupe.engine.training import train_model, validation_bpd

FLOW = {"couplings": 2, "hidden": 16}


@pytest.fixture(scope="module")
def splits() -> tuple[Dataset, Dataset]:
    digits = open_data("digits")
    return digits.split("train").subset(np.arange(300)), digits.split("val")


def test_training_is_deterministic_for_a_seed_and_differs_across_seeds(splits):
    train, val = splits
    runs = [train_model("flow", train, val, config=FLOW, epochs=2, seed=seed, device="cpu")[0] for seed in (4, 4, 5)]
    first, same, other = (run.state_dict() for run in runs)
    assert all(torch.equal(first[k], same[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_training_improves_on_the_start_and_keeps_the_best_epoch(splits):
    train, val = splits
    updates = []
    model, report = train_model("autoregressive", train, val, config={"hidden": [32], "patience": 2, "lr": 0.02},
                                epochs=40, seed=0, device="cpu", progress=TaskProgress(lambda *u: updates.append(u)))
    history = report.history
    done, total, stage = updates[-1]  # early stopping ends the bar at what was done, not at 40 epochs' worth
    assert done == total == report.epochs * math.ceil(len(train) / 64)
    assert stage.startswith(f"train · stopped early at epoch {report.epochs} of 40")
    assert not model.training and report.family == "autoregressive"
    assert len(history) == report.epochs < 40  # stopped early, patience 2
    best = min(history, key=lambda row: row["val_bpd"])
    assert report.best_epoch == best["epoch"] and report.epochs - report.best_epoch == 2
    assert report.best_val_bpd == pytest.approx(best["val_bpd"], abs=1e-9)  # the returned weights are the best ones
    assert validation_bpd(model, val) == pytest.approx(best["val_bpd"], abs=1e-9)
    assert report.best_val_bpd < min(math.log2(17), history[0]["val_bpd"] - 0.2)
    assert model.train_info["best_epoch"] == report.best_epoch and model.train_info["data_checksum"] == train.checksum()
    assert report.settings == {"epochs": 40, "patience": 2, "batch_size": 64, "lr": 0.02, "weight_decay": 0.0}


def test_progress_reports_batches_and_cancel_stops_training(splits):
    train, val = splits
    updates = []
    train_model("flow", train, val, config=FLOW, epochs=2, device="cpu", progress=TaskProgress(lambda *u: updates.append(u)))
    per_epoch = math.ceil(len(train) / 64)
    assert updates[0] == (0, 2 * per_epoch, "train") and updates[-1][:2] == (2 * per_epoch, 2 * per_epoch)
    assert updates[-1][2].startswith("train · epoch 2 · loss ") and updates[-1][2].endswith(" bits/dim")  # the loss shows
    assert [done for done, _, _ in updates] == sorted(done for done, _, _ in updates)

    progress = TaskProgress(lambda done, total, stage: done >= 3 and progress.cancel())
    with pytest.raises(Cancelled):
        train_model("flow", train, val, config=FLOW, epochs=5, device="cpu", progress=progress)


def test_a_family_with_its_own_fit_is_trained_by_it(splits):
    train, val = splits
    model, report = train_model("vaegan", train, val, config={"hidden": 16, "latent": 2}, epochs=1, device="cpu")
    assert model.family == "vaegan" and not model.training
    assert report.epochs is None and report.history == [] and math.isfinite(report.best_val_bpd)


def test_bad_requests_are_one_line_errors(splits):
    train, val = splits
    with pytest.raises(ModelError, match="unknown model family 'pixelcnn'"):
        train_model("pixelcnn", train, val)
    other = Dataset(name="other", images=val.images[:, :, :4, :4].copy(), levels=17)
    with pytest.raises(DataError, match="differ"):
        train_model("gaussian", train, other)
    with pytest.raises(DataError, match="validation"):
        train_model("gaussian", train, val.subset(np.arange(0)))
    with pytest.raises(ModelError, match="covariance"):
        train_model("mixture", train, val, config={"covariance": "spherical"})


@pytest.mark.parametrize(
    "config, message",
    [({"foo": 1}, "unknown flow config keys foo"), ({"hidden": "abc"}, "does not build"),
     ({"data_shape": [1, 4, 4]}, "must match the data")],
)
def test_bad_configs_are_one_line_model_errors(config, message):
    digits = open_data(None)
    with pytest.raises(ModelError, match=message):
        train_model("flow", digits.split("train"), digits.split("val"), config=config, epochs=1, device="cpu")

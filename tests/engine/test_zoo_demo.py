"""The shipped demo checkpoints (assets/demo, rebuilt by ``python -m genloupe.assets.build_demo``)
load, were trained on the digits they claim, and score where the demo needs them on the held-out
test split: every family below the uniform baseline, the flow and the autoregressive model at or
below 2.6 bits/dim (continuous models by the plain dequantization bound, the conservative one)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genloupe.assets.build_demo import DEMO_DIR, DEMO_FAMILIES
from genloupe.engine.checkpoints.zoo import load_checkpoint
from genloupe.engine.data import open_data
from genloupe.engine.likelihood import evaluate_likelihood

UNIFORM_BPD = math.log2(17)
TARGET_BPD = {"flow": 2.6, "autoregressive": 2.6}


@pytest.fixture(scope="module")
def digits():
    return open_data("digits")


@pytest.mark.parametrize("family", DEMO_FAMILIES)
def test_demo_checkpoint_beats_the_uniform_baseline_on_the_test_split(digits, family):
    model = load_checkpoint(DEMO_DIR / f"{family}.pt")
    train, test = digits.split("train"), digits.split("test")
    assert model.family == family and model.info.data_shape == (1, 8, 8) and model.info.levels == 17
    if model.train_info:  # written by train_model: the seed-0 train split of the digits
        assert model.train_info["data_checksum"] == train.checksum()
    result = evaluate_likelihood(model, test.images, test.levels, k_deq=4, device="cpu")
    log_px = result.log_px if result.log_px_plain is None else result.log_px_plain
    bpd = float(-np.mean(log_px) / (64 * math.log(2)))
    assert bpd < UNIFORM_BPD - 0.3
    assert bpd <= TARGET_BPD.get(family, UNIFORM_BPD)

"""Calibrated suggestions on planted cases: each kind found (recall ≥ 0.9, precision ≥ 0.8) while held-out
real images are flagged at no more than the stated rate (5 %)."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
import torch

from genloupe.engine.calibration import calibrated_below, given_below, rate_spread
from genloupe.engine.errors import MetricError
from genloupe.engine.session.suggestions import SuggestOptions, suggest_all

from .planted import KINDS, PlantedDigits

STATED = 0.05
LABEL_OF_KIND = {"near_blank": "bad", "noise": "bad", "wrong_dataset": "bad", "near_copy": "memorized"}
TEST_OF_KIND = {"near_blank": "likely_but_bad", "noise": "unlikely", "wrong_dataset": "unlikely", "near_copy": "memorized"}


@pytest.fixture(scope="module")
def planted() -> PlantedDigits:
    return PlantedDigits(n=60)


def by_label(sample, real, options=SuggestOptions()):
    return {s.label: s for s in suggest_all(sample, real, options)}


@pytest.mark.parametrize("kind", KINDS)
def test_each_planted_kind_is_found_with_recall_and_precision(planted: PlantedDigits, kind: str) -> None:
    scored, planted_mask = planted.mixture(kind)
    found = by_label(scored.columns, planted.calibration.columns)[LABEL_OF_KIND[kind]]
    flagged = np.zeros(len(planted_mask), bool)
    flagged[found.ids] = True
    hits = int((flagged & planted_mask).sum())
    assert hits / planted_mask.sum() >= 0.9, f"{kind}: recall {hits / planted_mask.sum():.3f}"
    assert hits / flagged.sum() >= 0.8, f"{kind}: precision {hits / flagged.sum():.3f}"
    assert found.false_flag_rate <= STATED + 1e-12
    test = next(t for t in found.tests if t.name == TEST_OF_KIND[kind])  # the test meant for this kind finds it
    assert np.isin(np.flatnonzero(planted_mask), test.ids).mean() >= 0.9
    assert len(found.reasons) == len(found.ids) and all("\n" not in r and r for r in found.reasons)


def test_false_flag_rate_on_held_out_real_images_stays_within_the_stated_bound(planted: PlantedDigits) -> None:
    """Over random splits of the 359 held-out digits into calibration and fresh images, the mean share of
    fresh real images flagged stays at or under the stated 5 % for every label (the conformal guarantee)."""
    pool = type(planted.good).join(planted.calibration, planted.good)
    n = len(pool["log_px"])
    rng = np.random.default_rng(1)
    rates: dict[str, list[float]] = {"bad": [], "memorized": []}
    for _ in range(100):
        order = rng.permutation(n)
        calibration, fresh = pool.take(order[:179]), pool.take(order[179:])
        for label, found in by_label(fresh.columns, calibration.columns).items():
            rates[label].append(len(found.ids) / len(order[179:]))
    for label, values in rates.items():
        mean, error = np.mean(values), np.std(values) / np.sqrt(len(values))
        assert mean <= STATED + 2 * error, f"{label}: mean false-flag rate {mean:.3f} ± {error:.3f}"


def test_the_stated_rate_follows_the_option_and_given_thresholds_report_their_measured_rate(planted: PlantedDigits) -> None:
    low = by_label(planted.good.columns, planted.calibration.columns, SuggestOptions(false_flag_rate=0.01))
    high = by_label(planted.good.columns, planted.calibration.columns, SuggestOptions(false_flag_rate=0.2))
    assert low["bad"].false_flag_rate <= 0.01 and 0.15 < high["bad"].false_flag_rate <= 0.2
    assert len(low["bad"].ids) < len(high["bad"].ids)
    given = by_label(planted.good.columns, planted.calibration.columns, SuggestOptions(thresholds={"memorized": 2.0}))
    test = given["memorized"].tests[0]
    assert not test.threshold.calibrated and test.threshold.value == 2.0
    assert test.threshold.false_flag_rate == pytest.approx(np.mean(planted.calibration["train_nn_distance"] < 2.0))


def test_the_old_fixed_realism_rule_flagged_half_the_real_digits_and_the_calibrated_one_does_not(planted) -> None:
    """realism < 1 against the training images flags about half of held-out real digits; calibrated: ~5 %."""
    assert np.mean(planted.good["realism_train"] < 1.0) > 0.4
    found = by_label(planted.good.columns, planted.calibration.columns)["bad"]
    assert len(found.ids) / len(planted.good["log_px"]) < 0.1


def test_conformal_threshold_closed_form() -> None:
    scores = np.arange(1.0, 20.0)  # n = 19: k = floor(20 * 0.1) = 2 -> the second smallest, rate 2/20
    threshold = calibrated_below(scores, 0.1)
    assert threshold.value == 2.0 and threshold.false_flag_rate == pytest.approx(0.1)
    assert calibrated_below(scores, 0.01).value == -np.inf  # too few images to promise 1 %: flags nothing
    assert given_below(scores, 5.5).false_flag_rate == pytest.approx(5 / 19)
    with pytest.raises(MetricError):
        calibrated_below(scores, 1.5)
    with pytest.raises(MetricError, match="'likely' quantile"):
        suggest_all({"log_px": scores}, {"log_px": scores}, SuggestOptions(likely_quantile=1.0))
    from scipy.stats import beta  # the reference: a 5 % threshold from 179 images leaves Beta(9, 171) below it

    assert rate_spread(179, 0.05) == pytest.approx(tuple(beta.ppf([0.05, 0.95], 9, 171)), rel=1e-9)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_calibration_stage_gives_the_same_suggestions_on_cuda() -> None:
    from genloupe.engine.checkpoints import open_model
    from genloupe.engine.data import open_data
    from genloupe.engine.evaluation import EvaluationSettings, evaluate

    data = open_data("digits")
    model = open_model(str(files("genloupe.assets") / "demo" / "autoregressive.pt"))
    found = {}
    for device in ("cpu", "cuda"):
        result = evaluate(model, data.split("test"), EvaluationSettings(n_samples=200, device=device, metrics=("ll", "pr")),
                          training=data.split("train").images)
        for source in ("sample", "reference"):
            for name in ("realism_train", "train_nn_distance"):
                if name in result.columns[source]:
                    found.setdefault((source, name), []).append(result.columns[source][name])
        found.setdefault("ids", []).append({s.label: s.ids.tolist()
                                            for s in suggest_all(result.columns["sample"], result.columns["reference"])})
    for key, (cpu, gpu) in found.items():
        if key != "ids":
            np.testing.assert_allclose(cpu, gpu, rtol=1e-4, err_msg=str(key))
    assert found["ids"][0] == found["ids"][1]


def test_training_images_as_the_reference_calibrate_nothing() -> None:
    from genloupe.engine.checkpoints import open_model
    from genloupe.engine.data import open_data
    from genloupe.engine.evaluation import EvaluationSettings, evaluate

    train = open_data("digits").split("train")
    model = open_model(str(files("genloupe.assets") / "demo" / "gaussian.pt"))
    result = evaluate(model, train.subset(np.arange(200)), EvaluationSettings(n_samples=50, device="cpu", metrics=("pr",)),
                      training=train.images)
    assert "realism_train" not in result.columns["reference"] and "train_nn_distance" not in result.columns["reference"]
    assert suggest_all(result.columns["sample"], result.columns["reference"]) == []

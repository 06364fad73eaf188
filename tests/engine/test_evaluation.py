"""The evaluation pipeline on real models and data: samples, likelihoods, features, metrics, projection."""

import json

import numpy as np
import pytest

from genloupe.app.demo import demo_model_path
from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.errors import MetricError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.results import summary, write_csv, write_session
from genloupe.engine.session import Session

SETTINGS = EvaluationSettings(n_samples=200, device="cpu")


@pytest.fixture(scope="module")
def reference():
    return open_data(None).split("test")


@pytest.fixture(scope="module")
def flow_result(reference):
    return evaluate(open_model(demo_model_path("flow (RealNVP)")), reference, SETTINGS)


def test_every_stage_fills_its_columns_and_metrics(flow_result, reference):
    r = flow_result
    assert r.samples.shape == (200, 1, 8, 8) and r.samples.max() <= 16
    assert set(r.columns["sample"]) >= {"log_px", "bpd", "realism", "in_manifold", "nn_id", "nn_distance", "proj_x", "proj_y"}
    assert set(r.columns["reference"]) >= {"log_px", "bpd", "in_manifold", "proj_x", "proj_y"}
    assert set(r.metrics) >= {"fid", "kid", "is", "precision", "recall", "density", "coverage",
                              "mean_bpd_sample", "mean_bpd_reference"}
    assert 0 <= r.metrics["precision"]["value"] <= 1 and r.metrics["fid"]["value"] > 0
    assert r.metrics["fid"]["ci"][0] <= r.metrics["fid"]["value"] <= r.metrics["fid"]["ci"][1]
    assert np.all(r.columns["sample"]["nn_id"] < len(reference))
    assert r.real_nn_distance.shape == (len(reference),) and np.all(r.real_nn_distance >= 0)
    assert r.metrics["mean_bpd_reference"]["value"] < np.log2(17)  # the demo flow beats uniform on held-out digits
    assert set(r.timings) == {"sampling", "likelihood", "features", "metrics"}


def test_same_seed_same_result_other_seed_other_samples(flow_result, reference):
    model = open_model(demo_model_path("flow (RealNVP)"))
    again = evaluate(model, reference, EvaluationSettings(n_samples=200, device="cpu", metrics=("ll",)))
    other = evaluate(model, reference, EvaluationSettings(n_samples=200, device="cpu", metrics=("ll",), seed=1))
    assert np.array_equal(again.samples, flow_result.samples)
    assert np.allclose(again.columns["sample"]["log_px"], flow_result.columns["sample"]["log_px"])
    assert not np.array_equal(other.samples, flow_result.samples)


def test_gan_head_is_scored_under_the_vae_head(reference):
    gan = open_model(demo_model_path("GAN head (hybrid)"))
    vae = open_model(demo_model_path("VAE head (hybrid)"))
    result = evaluate(gan, reference, EvaluationSettings(n_samples=128, device="cpu", metrics=("ll",), k_bound=8),
                      scoring_model=vae)
    assert result.likelihood["sample"].convention.kind == "lower_bound"
    assert "IWAE-8" in result.metrics["mean_bpd_sample"]["convention"]
    unscored = evaluate(gan, reference, EvaluationSettings(n_samples=64, device="cpu", metrics=("ll",)))
    assert unscored.likelihood == {}  # a GAN alone has no likelihood: nothing is invented


def test_sample_bundle_keeps_its_own_samples_and_stored_likelihoods(tmp_path, reference):
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 17, size=(50, 1, 8, 8))
    stored = rng.normal(-150, 5, size=50)
    path = tmp_path / "cluster_samples.npz"
    np.savez(path, samples=samples, levels=17, log_prob=stored,
             log_prob_convention=json.dumps({"unit": "nats", "space": "discrete", "kind": "lower_bound"}))
    result = evaluate(open_model(path), reference, EvaluationSettings(n_samples=40, device="cpu", metrics=("ll", "pr")))
    assert np.array_equal(result.samples, samples[:40])
    assert np.allclose(result.columns["sample"]["log_px"], stored[:40])
    assert result.likelihood["sample"].convention.kind == "lower_bound"
    assert "realism" in result.columns["sample"]


def test_further_sets_are_scored_beside_the_held_out_one(reference):
    train = open_data(None).split("train").images[:300]
    model = open_model(demo_model_path("autoregressive"))
    result = evaluate(model, reference, EvaluationSettings(n_samples=64, device="cpu", metrics=("ll",)),
                      further={"train": train})
    assert result.columns["train"]["log_px"].shape == (300,)
    # the demo model has seen the train split: it scores it better than held-out data (overfitting shows)
    assert result.metrics["mean_bpd_train"]["value"] < result.metrics["mean_bpd_reference"]["value"]


def test_unknown_metric_is_an_error(reference):
    with pytest.raises(MetricError, match="unknown metrics"):
        evaluate(open_model(demo_model_path("diagonal Gaussian")), reference, EvaluationSettings(metrics=("fid", "ssim")))


def test_results_files_round_trip(flow_result, tmp_path):
    doc = summary(flow_result, model_path="flow.pt", model_hash="sha256:x")
    assert set(doc) >= {"model", "reference", "features", "n_samples", "device", "seed", "likelihood", "metrics",
                        "timings", "versions"}
    assert set(doc["likelihood"]) == {"samples", "reference"}
    assert {"kid_mean", "kid_std", "is_mean", "is_std", "fid", "precision", "recall", "density", "coverage"} <= set(doc["metrics"])
    json.dumps(doc)
    write_csv(flow_result, tmp_path / "rows.csv")
    rows = (tmp_path / "rows.csv").read_text().splitlines()
    assert rows[0] == "id,source,log_px,bpd,realism,in_manifold,nn_id,nn_distance,train_nn_id,train_nn_distance"
    assert len(rows) == 1 + 200 + len(flow_result.reference)
    first = rows[1].split(",")
    assert float(first[2]) == flow_result.columns["sample"]["log_px"][0]
    with write_session(flow_result, tmp_path / "s.genloupe", {"checkpoint": "flow.pt"}) as session:
        assert np.array_equal(session.read_images("sample")[0], flow_result.samples)
        assert session.read_metrics()["fid"]["value"] == flow_result.metrics["fid"]["value"]
    with Session.open(tmp_path / "s.genloupe") as session:
        assert np.array_equal(session.read_columns("sample")["realism"], flow_result.columns["sample"]["realism"])
        assert session.read_array("sample-bits") is None  # a flow gives no per-pixel likelihood


def test_per_pixel_bits_are_kept_for_factorized_models(reference, tmp_path):
    model = open_model(demo_model_path("autoregressive"))
    result = evaluate(model, reference, EvaluationSettings(n_samples=64, device="cpu", metrics=("ll",)))
    with write_session(result, tmp_path / "ar.genloupe", {"checkpoint": "ar.pt"}) as session:
        bits = session.read_array("sample-bits")
    assert bits.shape == (64, 1, 8, 8)
    assert np.allclose(bits.reshape(64, -1).sum(1), result.columns["sample"]["bpd"] * 64, rtol=1e-4)


def test_copies_of_training_images_are_found_and_suggested_as_memorized(tmp_path, reference):
    from genloupe.engine.session.suggestions import memorized

    train = open_data(None).split("train").images
    rng = np.random.default_rng(3)
    copies = train[rng.choice(len(train), 40, replace=False)]
    fresh = rng.integers(0, 17, size=(40, 1, 8, 8))
    path = tmp_path / "replays.npz"  # a "model" that replays training images half of the time
    np.savez(path, samples=np.concatenate([copies, fresh]), levels=17)
    result = evaluate(open_model(path), reference, EvaluationSettings(n_samples=80, device="cpu", metrics=("pr",)),
                      training=train)
    distance = result.columns["sample"]["train_nn_distance"]
    assert np.all(distance[:40] == 0) and np.all(distance[40:] > 0)
    assert np.array_equal(train[result.columns["sample"]["train_nn_id"][:40]], copies)
    found = memorized(distance, result.columns["reference"]["train_nn_distance"], 0.05)
    assert sorted(found.ids.tolist()) == list(range(40))
    # held-out images scored as the samples are: against the training images (the calibration stage)
    assert set(result.columns["reference"]) >= {"realism_train", "train_nn_distance"} and "calibration" in result.timings
    assert np.all(result.columns["reference"]["train_nn_distance"] > 0)  # the test split is not in the training split
    assert np.median(result.columns["sample"]["realism_train"][:40]) > 1e3  # copies sit on a training ball centre (of the kept half)
    with write_session(result, tmp_path / "m.genloupe", {"checkpoint": str(path)}) as session:
        assert np.array_equal(session.read_images("training")[0], train)
        assert len(session.read_columns("training-nn")["nn_distance"]) == len(train)

"""`genloupe evaluate` and `genloupe likelihood` as real processes: outputs, progress, exit status 2 on bad input."""

import csv
import json
import subprocess
import sys

import numpy as np

from genloupe.app.demo import demo_model_path

FLOW = demo_model_path("flow (RealNVP)")


def genloupe(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genloupe.app", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_evaluate_writes_json_csv_and_session(tmp_path):
    out = genloupe("evaluate", FLOW, "--n", "120", "--device", "cpu", "--also-split", "train", "--training-split", "train",
                   "--json", str(tmp_path / "e.json"),
                   "--csv", str(tmp_path / "e.csv"), "--session", str(tmp_path / "e.genloupe"))
    assert out.returncode == 0, out.stderr
    assert "likelihood" in out.stderr  # progress goes to stderr
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["n_samples"] == 120 and doc["device"] == "cpu" and doc["features"] == "digits-cnn"
    assert doc["likelihood"]["samples"]["convention"]["levels"] == 17
    assert doc["likelihood"]["reference"]["mean_bpd"] < 2.6  # the demo flow's held-out bits/dim
    assert doc["likelihood"]["train"]["mean_bpd"] < doc["likelihood"]["reference"]["mean_bpd"]
    assert {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density", "coverage"} <= set(doc["metrics"])
    stages = {"sampling", "likelihood", "features", "metrics", "calibration"}
    metrics = {"metric fid", "metric kid", "metric precision/recall, density/coverage, nearest neighbours"}
    assert set(doc["timings"]) == stages | metrics  # each metric's share of the metric stage
    assert sum(doc["timings"][name] for name in metrics) <= doc["timings"]["metrics"]
    rows = list(csv.DictReader(line for line in open(tmp_path / "e.csv") if not line.startswith("#")))
    samples = [r for r in rows if r["source"] == "sample"]
    assert len(samples) == 120 and samples[0]["realism"] != "" and samples[0]["nn_id"] != ""
    assert sum(r["source"] == "train" for r in rows) == 1438
    assert samples[0]["train_nn_distance"] != ""  # each sample's nearest training image
    assert (tmp_path / "e.genloupe").stat().st_size > 0


def test_likelihood_prints_the_convention_and_writes_per_sample_values(tmp_path):
    out = genloupe("likelihood", demo_model_path("autoregressive"), "--split", "test", "--json", str(tmp_path / "l.json"))
    assert out.returncode == 0, out.stderr
    assert "bits/dim" in out.stdout and "exact" in out.stdout
    doc = json.loads((tmp_path / "l.json").read_text())
    assert doc["mean_bpd"] <= 2.6 and len(doc["log_px"]) == doc["data"]["n"]


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    garbage = tmp_path / "model.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((20, 8, 8), np.uint8))  # all zeros: inferred as 2 levels, declared 17 below
    ok = genloupe("likelihood", FLOW, "--data", str(flat), "--levels", "17", "--split", "all")
    assert ok.returncode == 0 and "n=20" in ok.stdout, ok.stderr
    for args in (
        ("likelihood", FLOW, "--data", str(flat), "--split", "all"),  # 2 levels do not fit a 17-level model
        ("likelihood", FLOW, "--json", str(tmp_path / "missing" / "out.json")),  # an unwritable output
        ("evaluate", FLOW, "--n", "10", "--metrics", "ll", "--session", str(tmp_path / "missing" / "s.genloupe")),
        ("evaluate", str(garbage)),
        ("evaluate", FLOW, "--metrics", "fid,ssim", "--n", "10"),
        ("evaluate", FLOW, "--reference", str(tmp_path / "missing")),
        ("likelihood", FLOW, "--data", str(garbage)),
    ):
        out = genloupe(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("\r")]
        assert len(lines) == 1 and lines[0].startswith("genloupe"), (args, out.stderr)

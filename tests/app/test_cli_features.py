"""`genloupe features` and the features of `genloupe evaluate` at 28x28, as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ..digits28 import gaussian28, write_digits28


def genloupe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloupe.app", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def digits28(tmp_path_factory):
    folder = write_digits28(tmp_path_factory.mktemp("digits28") / "images", n=500)
    return folder, gaussian28(folder, folder.parent / "gaussian28.pt")


def test_features_lists_every_extractor_and_where_its_weights_are(tmp_path):
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"")  # torch-fidelity's cache name
    out = genloupe("features", "--json", "--dinov2-weights", str(tmp_path / "nowhere.pth"), env={"TORCH_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    entries = {entry["name"]: entry for entry in json.loads(out.stdout)}
    assert list(entries)[:4] == ["digits-cnn", "dinov2", "inception-fid", "pixels"]
    assert entries["inception-fid"]["available"] and entries["inception-fid"]["weights"] == (
        f"found (torch hub cache): {checkpoints / 'weights-inception-2015-12-05-6726825d.pth'}")
    assert entries["inception-fid"]["dim"].startswith("2048") and entries["dinov2"]["dim"].startswith("1024")
    missing = entries["dinov2"]["weights"]
    assert not entries["dinov2"]["available"] and missing.startswith(f"{tmp_path / 'nowhere.pth'} (--dinov2-weights) does not exist")
    assert f"set GENLOUPE_DINOV2_WEIGHTS=PATH, or put it in {checkpoints}" in missing
    assert entries["pixels"]["note"] == "pixel-space metrics are a weak proxy for sample quality"


def test_evaluate_at_28x28_follows_the_data_and_refuses_a_misfit_before_sampling(digits28, tmp_path):
    folder, model = digits28
    wrong = genloupe("evaluate", str(model), "--reference", str(folder), "--features", "digits-cnn", "--device", "cpu")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        "genloupe evaluate: error: features digits-cnn take 1x8x8 images only (the embedded digits), but the data "
        "are 1x28x28: choose features that fit (inception-fid, dinov2, pixels or pixels:D)"]  # no progress: not sampled

    out = genloupe("evaluate", str(model), "--reference", str(folder), "--n", "100", "--metrics", "ll,fid,pr",
                   "--device", "cpu", "--json", str(tmp_path / "e.json"))
    assert out.returncode == 0, out.stderr
    assert "note: pixels features: pixel-space metrics are a weak proxy for sample quality" in out.stderr
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["features"] == "pixels" and doc["n_samples"] == 100

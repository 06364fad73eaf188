"""``genloupe train`` through a real subprocess: a one-epoch run writes a checkpoint that loads and
scores what the command printed; a bad family is a one-line error with exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys

from genloupe.engine.checkpoints.zoo import load_checkpoint
from genloupe.engine.data import open_data
from genloupe.engine.likelihood import evaluate_likelihood


def genloupe_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genloupe.app", "train", *args], capture_output=True, text=True, timeout=120
    )


def test_train_writes_a_checkpoint_that_loads_and_scores_as_printed(tmp_path):
    out = tmp_path / "flow.safetensors"
    result = genloupe_train("flow", "--data", "digits", "--out", str(out), "--epochs", "1", "--seed", "3",
                            "--device", "cpu", "--config", '{"couplings": 2, "hidden": 16}')
    assert result.returncode == 0, result.stderr
    assert "train" in result.stderr and "]" in result.stderr  # the progress bar
    printed = float(re.search(r"test bits/dim ([0-9.]+)", result.stdout).group(1))
    model = load_checkpoint(out)
    assert model.family == "flow" and model.config["hidden"] == 16 and model.train_info["epochs"] == 1
    test = open_data("digits").split("test")
    scored = evaluate_likelihood(model, test.images, test.levels, seed=3, device="cpu").mean_bpd
    assert abs(scored - printed) < 1e-3 and scored < 4.087


def test_an_unknown_family_exits_with_status_2_and_one_line(tmp_path):
    result = genloupe_train("pixelcnn", "--out", str(tmp_path / "x.pt"), "--epochs", "1")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "unknown model family 'pixelcnn'" in result.stderr
    assert not (tmp_path / "x.pt").exists()

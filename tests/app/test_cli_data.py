"""``genloupe data`` through a real subprocess: one good source, two bad ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from genloupe.engine.data import open_data


def genloupe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genloupe.app", "data", *args], capture_output=True, text=True, timeout=120
    )


def test_data_describes_an_array_file(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, x=np.arange(40 * 16).reshape(40, 4, 4) % 256, y=np.arange(40) % 3)
    result = genloupe(str(path), "--seed", "4", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["source"] == str(path) and summary["format"] == "npz"
    assert (summary["count"], summary["shape"], summary["levels"], summary["classes"]) == (40, [1, 4, 4], 256, 3)
    assert summary["splits"] == {"train": 32, "val": 4, "test": 4} and summary["seed"] == 4
    assert summary["checksum"] == open_data(path).checksum()
    text = genloupe(str(path), "--levels", "1000")
    assert text.returncode == 0, text.stderr
    assert "npz" in text.stdout and "1000 (values 0..255)" in text.stdout and "3 classes" in text.stdout


def test_data_refuses_a_missing_path_with_one_line(tmp_path):
    result = genloupe(str(tmp_path / "nowhere"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "nowhere: no such file or folder" in result.stderr


def test_data_refuses_float_arrays_with_one_line(tmp_path):
    path = tmp_path / "floats.npy"
    np.save(path, np.random.default_rng(0).random((5, 4, 4)))
    result = genloupe(str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "floats.npy: float64 values, expected integer levels" in result.stderr

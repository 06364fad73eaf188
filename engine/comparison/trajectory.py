"""Checkpoints over training: members ordered by epoch, one series per metric, and where they part ways.

An epoch comes from the checkpoint itself (``genloupe train --save-every`` stores it) or from a
step number in the file's name (``model-epoch12.pt``, ``ckpt_step3000.pt``, ``run-007.pt``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .store import Member

# A step after a word that names one, else the last number in the name.
_NAMED_STEP = re.compile(r"(?:epoch|epochs|ep|step|steps|iter|iteration|it|ckpt|checkpoint)[-_=]?(\d+)", re.IGNORECASE)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


MODEL_SUFFIXES = (".pt", ".safetensors", ".pt2", ".zip", ".onnx", ".npz")


def checkpoint_files(folder: str | Path) -> list[Path]:
    """Model files of a folder, ordered by the step in their names (then by name); files without a step last."""
    files = [p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES]
    return sorted(files, key=lambda p: (epoch_from_name(p) is None, epoch_from_name(p) or 0, p.name))


def is_checkpoint_folder(path: str | Path) -> bool:
    """A folder of model files (a training run), not a folder that is one model (an export bundle has meta.json)."""
    path = Path(path)
    return path.is_dir() and not (path / "meta.json").exists() and bool(checkpoint_files(path))


def epoch_from_name(path: str | Path) -> int | None:
    """The step number a checkpoint's file name carries, or None."""
    stem = Path(path).name.split(".")[0]
    match = _NAMED_STEP.search(stem) or _LAST_NUMBER.search(stem)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Trajectory:
    """Members with an epoch, in epoch order, and each metric's values (nan where a member lacks it)."""

    epochs: np.ndarray  # (m,) int
    members: tuple[int, ...]  # positions in the member list, in epoch order
    values: dict[str, np.ndarray]  # metric -> (m,) values
    intervals: dict[str, np.ndarray]  # metric -> (m, 2) low, high (nan where there is none)
    unit: str  # 'epoch', or 'step (from file names)' when any epoch came from a name

    def parting(self, quality: str, better: str) -> list[int]:
        """Epochs where held-out bits/dim and ``quality`` moved apart since the previous checkpoint: one got
        better, the other worse (the likelihood improving while samples degrade, or samples improving while
        the held-out likelihood degrades, as a model that memorizes does)."""
        bpd, values = self.values.get("bpd"), self.values.get(quality)
        if bpd is None or values is None:
            return []
        sign = 1.0 if better == "higher" else -1.0
        return [int(self.epochs[i]) for i in range(1, len(self.epochs))
                if np.sign(bpd[i - 1] - bpd[i]) * np.sign(sign * (values[i] - values[i - 1])) < 0]

    def gap_opens(self) -> int | None:
        """The epoch of the best held-out bits/dim when later checkpoints fit the training split better and the
        held-out split worse: from there on the train/held-out gap widens (overfitting). None otherwise."""
        bpd, train = self.values.get("bpd"), self.values.get("train_bpd")
        if bpd is None or train is None or not np.isfinite(bpd).any():
            return None
        best = int(np.nanargmin(bpd))
        if best == len(bpd) - 1 or not (train[-1] < train[best] and bpd[-1] > bpd[best]):
            return None
        return int(self.epochs[best])


def trajectory(members: Sequence[Member], metrics: Sequence[str]) -> Trajectory | None:
    """The trajectory of the members that carry an epoch (None when fewer than two do)."""
    timed = sorted((member.epoch, k) for k, member in enumerate(members) if member.epoch is not None)
    if len(timed) < 2:
        return None
    positions = tuple(k for _, k in timed)
    values, intervals = {}, {}
    for metric in metrics:
        entries = [members[k].metrics.get(metric) or {} for k in positions]
        if not any("value" in entry for entry in entries):
            continue
        values[metric] = np.array([_float(entry.get("value")) for entry in entries])
        intervals[metric] = np.array([[_float(v) for v in entry.get("ci", (None, None))] for entry in entries])
    named = any(members[k].epoch_source == "file name" for k in positions)
    return Trajectory(np.array([epoch for epoch, _ in timed]), positions, values, intervals,
                      "step (from file names)" if named else "epoch")


def _float(value: float | None) -> float:
    return np.nan if value is None else float(value)

"""Evaluate one member of a comparison: the ordinary evaluation, with the comparison's shared settings.

Every member is sampled with the same seed, scored on the same reference split (and on the same
slice of the training split, for the train/held-out gap) and described by the same features; the
reference's features come from the feature cache after the first member. The member's full
evaluation goes to its own session file, the comparison keeps its metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoints import content_hash, open_model
from ..data import Dataset, open_data
from ..evaluation import Evaluation, evaluate
from ..compatibility import resolve_features
from ..features.registry import is_user_file
from ..metrics.intervals import t_interval
from ..models.noise_mixture import NoiseMixture
from ..progress import Progress, null_progress
from ..results import write_session
from .store import ComparisonSettings, Member
from .trajectory import epoch_from_name

QUALITY_KEYS = ("fid", "kid", "is", "precision", "recall", "density", "coverage")
LIKELIHOOD_SOURCES = {"reference": "bpd", "train": "train_bpd", "sample": "sample_bpd"}  # source -> metric key


@dataclass(frozen=True)
class MemberSpec:
    """A model to add: its address (``PATH`` or ``PATH#head``), mixed with uniform noise of weight w if w > 0."""

    address: str
    noise_weight: float = 0.0
    trust_code: bool = False

    @property
    def name(self) -> str:
        path, _, head = self.address.partition("#")
        name = Path(path).name + (f"#{head}" if head else "")
        return f"{name} + {self.noise_weight:g} noise" if self.noise_weight else name


def open_reference(settings: ComparisonSettings) -> tuple[Dataset, np.ndarray | None]:
    """The reference split and the first ``n_samples`` training images (None when the reference is the train split)."""
    data = open_data(settings.reference)
    reference = data.split(settings.split)
    train = data.split("train").images[: settings.n_samples] if settings.split != "train" else None
    return reference, train


def evaluate_member(spec: MemberSpec, settings: ComparisonSettings, reference: Dataset, train: np.ndarray | None,
                    session_path: Path, progress: Progress | None = None) -> Member:
    """Evaluate ``spec`` with the shared ``settings``, write its session to ``session_path``, return the member."""
    progress = progress or null_progress()
    model = open_model(spec.address, trust_code=spec.trust_code)
    evaluated = NoiseMixture(model, spec.noise_weight) if spec.noise_weight else model
    features = resolve_features(settings.features, reference.shape)  # 'auto' resolves alike for every member
    options = {"trust_code": spec.trust_code} if is_user_file(features) else {}  # TorchScript extractors need trust
    further = {"train": train} if train is not None else None
    shared = replace(settings, features=features).evaluation_settings(options)
    result = evaluate(evaluated, reference, shared, further=further, progress=progress)
    progress.check()  # a cancelled member writes no session
    checkpoint_hash = content_hash(spec.address.partition("#")[0])
    run = {"checkpoint": spec.address, "checkpoint_hash": checkpoint_hash, "reference_source": settings.reference,
           "noise_weight": spec.noise_weight}
    write_session(result, session_path, run).close()
    epoch, source = member_epoch(model, spec.address)
    return Member(
        name=spec.name, address=spec.address, session=session_path, noise_weight=spec.noise_weight, epoch=epoch,
        epoch_source=source, summary=member_summary(result, checkpoint_hash),
    )


def member_epoch(model: Any, address: str) -> tuple[int | None, str]:
    """The epoch a zoo checkpoint was saved at, else a step number in the file's name, else None."""
    train_info = getattr(getattr(model, "model", model), "train_info", None) or {}
    if isinstance(train_info.get("epoch"), int):
        return train_info["epoch"], "checkpoint"
    step = epoch_from_name(address.partition("#")[0])
    return (step, "file name") if step is not None else (None, "")


def member_summary(result: Evaluation, checkpoint_hash: str) -> dict[str, Any]:
    """What the comparison keeps of an evaluation: mean bits/dim per source with intervals, quality metrics."""
    metrics: dict[str, dict[str, Any]] = {}
    for source, key in LIKELIHOOD_SOURCES.items():
        ll = result.likelihood.get(source)
        if ll is not None:
            metrics[key] = mean_bpd_entry(ll.bpd, ll.convention.short(), ll.convention.describe())
    metrics.update({key: result.metrics[key] for key in QUALITY_KEYS if key in result.metrics})
    return {
        "model": result.model_info,
        "metrics": metrics,
        "reference": {"name": result.reference_name, "checksum": result.reference_checksum,
                      "n": int(len(result.reference)), "levels": result.levels},
        "n_samples": int(len(result.samples)),
        "checkpoint_hash": checkpoint_hash,
        "timings": result.timings,
    }


def mean_bpd_entry(bpd: np.ndarray, short: str, convention: str) -> dict[str, Any]:
    """Mean bits/dim over images with its 95% t interval (images are independent draws of the data)."""
    finite = bpd[np.isfinite(bpd)]
    value = float(finite.mean()) if len(finite) else math.nan
    interval = t_interval(value, finite, 0.95, "t interval of the mean over images")
    entry: dict[str, Any] = {"value": value, "n": int(len(finite)), "convention": convention, "short": short}
    if interval is not None:
        entry.update(ci=[interval.low, interval.high], method=f"95% interval, {interval.method}")
    return entry

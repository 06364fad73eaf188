"""How long the checks before sampling take (issue: within a second), per kind of features choice.

    python tests/bench/bench_compatibility.py [--repeats 7]

Prints JSON: the median seconds of ``check_compatibility`` for a 1x28x28 model and reference with each
features choice (built-ins find their weights on disk but load nothing; a user .pt2 file is loaded
and run on one blank image), and of ``evaluate`` from its call to the one-line error for a misfit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genloupe.engine.compatibility import check_compatibility
from genloupe.engine.data import Dataset
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.models.gaussian import DiagonalGaussian


def median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            run()
        except GenLoupeError:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="genloupe-bench-compat-"))
    checkpoints = folder / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"\0" * (1 << 20))  # found, never read
    (checkpoints / "dinov2_vitl14_pretrain.pth").write_bytes(b"\0" * (1 << 20))
    os.environ["TORCH_HOME"] = str(folder)
    user = folder / "extractor.pt2"
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32)).eval()
    torch.export.save(torch.export.export(net, (torch.zeros(2, 1, 28, 28),)), user)

    model = DiagonalGaussian([1, 28, 28], 256)
    reference = Dataset(name="noise", images=np.random.default_rng(0).integers(0, 256, (1000, 1, 28, 28), dtype=np.uint8),
                        levels=256)
    choices = ["auto", "digits-cnn", "inception-fid", "dinov2", "pixels:64", str(user)]
    figures = {
        f"check {Path(choice).name}": median_seconds(
            lambda c=choice: check_compatibility(model.info, reference.shape, reference.levels, c), args.repeats)
        for choice in choices
    }
    settings = EvaluationSettings(n_samples=1000, features="digits-cnn", device="cpu")
    figures["evaluate until the misfit error (digits-cnn on 1x28x28)"] = median_seconds(
        lambda: evaluate(model, reference, settings), args.repeats)
    print(json.dumps({"unit": "seconds (median)", "repeats": args.repeats, **figures}, indent=1))


if __name__ == "__main__":
    main()

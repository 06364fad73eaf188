"""The README's screenshots of comparisons: ``python -m genloupe.app.comparison_screenshots --out DIR``.

Runs the real window offscreen (throwaway settings and feature cache) and saves:

- ``comparison-demo.png``: every bundled demo model added to one comparison (File ▸ Add model to comparison);
- ``noise-sweep.png``: the one-step noise-mixture sweep of the autoregressive demo;
- ``trajectory.png``: a folder of checkpoints over training. Without ``--checkpoints`` it first trains the
  autoregressive family for 60 epochs, keeping every 6th (``genloupe train --save-every``), about a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from genloupe.app.screenshots import DEFAULT_WIDTH, save, screenshot_window, settle

JOB_TIMEOUT_S = 600
TRAINING = ["autoregressive", "--epochs", "60", "--save-every", "6", "--config",
            '{"hidden": [512], "patience": 100, "lr": 0.003}']


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genloupe.app.comparison_screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"width of each PNG (default {DEFAULT_WIDTH})")
    parser.add_argument("--samples", type=int, default=1000, help="samples drawn per model (default 1000)")
    parser.add_argument("--checkpoints", type=Path, default=None, help="folder of checkpoints for the trajectory")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="genloupe-screenshots-") as scratch:
        os.environ["GENLOUPE_CONFIG_DIR"] = os.path.join(scratch, "config")
        os.environ["GENLOUPE_CACHE_DIR"] = os.path.join(scratch, "cache")
        checkpoints = args.checkpoints or train_checkpoints(Path(scratch) / "run")
        written = take_screenshots(args.out, args.width, args.samples, checkpoints)
    for path in written:
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


def train_checkpoints(folder: Path) -> Path:
    from genloupe.app.cli import main as genloupe

    folder.mkdir(parents=True)
    if genloupe(["train", *TRAINING, "--out", str(folder / "made.pt")]) != 0:
        raise SystemExit("comparison screenshots: training the checkpoints failed")
    (folder / "made.pt").unlink()  # the best-epoch copy has no epoch of its own: the trajectory is the saved ones
    return folder


def take_screenshots(out: Path, width: int, n_samples: int, checkpoints: Path) -> list[Path]:
    from genloupe.app.demo import DEMO_MODELS, demo_model_path

    app, window = screenshot_window(out, n_samples)
    presenter = window.comparison
    written = []

    def shoot(name: str, dock: str) -> None:
        wait_for_jobs(app, presenter)
        presenter.docks[dock].raise_()
        settle(app)
        written.append(save(presenter.docks[dock], out / name, width))

    try:
        presenter.add_models([demo_model_path(name) for name in DEMO_MODELS])
        shoot("comparison-demo.png", "comparison")
        presenter.sweep_demo()
        shoot("noise-sweep.png", "comparison")
        presenter.open_folder(str(checkpoints))
        shoot("trajectory.png", "trajectory")
    finally:
        window.close()
    return written


def wait_for_jobs(app, presenter) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while presenter.pending:
        if time.monotonic() > deadline:
            raise SystemExit("comparison screenshots: the evaluations timed out")
        app.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())

"""The README's screenshots of the window: ``python -m genloupe.app.screenshots --out DIR``.

Runs the real window offscreen on the bundled demo, with a throwaway settings folder (so the
default layout, never the user's own) and feature cache, and saves small PNGs of its main states:

- ``demo-opened.png``: ``genloupe`` with no arguments once the demo's evaluation is done;
- ``histogram-brushed.png``: the least likely tenth of the samples brushed in the histogram: the grid
  shows only them, the manifold view marks them;
- ``inspector-open.png``: the autoregressive demo (it gives per-pixel bits) after Suggest flags (the Suggestions
  panel states each label's false-flag rate on held-out real images),
  with its most likely "likely but bad" suggestion in the inspector.

Screenshots are scaled to ``--width`` pixels and stored as 256-colour PNGs to stay small.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

SIZE = (1600, 1000)  # the window's default size
DEFAULT_WIDTH = 1000
BRUSHED_SHARE = 0.1  # the least likely tenth of the samples
INSPECTED_MODEL = "autoregressive"
EVALUATION_TIMEOUT_MS = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genloupe.app.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"width of each PNG (default {DEFAULT_WIDTH})")
    parser.add_argument("--samples", type=int, default=1000, help="samples drawn per model (default 1000)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="genloupe-screenshots-") as scratch:
        os.environ["GENLOUPE_CONFIG_DIR"] = os.path.join(scratch, "config")
        os.environ["GENLOUPE_CACHE_DIR"] = os.path.join(scratch, "cache")
        written = take_screenshots(args.out, args.width, args.samples)
    for path in written:
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


def take_screenshots(out: Path, width: int, n_samples: int) -> list[Path]:
    from genloupe.app.demo import DEMO_MODELS, demo_model_path

    app, window = screenshot_window(out, n_samples)
    written = []
    try:
        open_and_wait(window, demo_model_path(next(iter(DEMO_MODELS))))
        written.append(save(window, out / "demo-opened.png", width))

        bpd = window.view_data.sample_columns["bpd"]
        lo, hi = float(np.quantile(bpd, 1 - BRUSHED_SHARE)), float(bpd.max())
        window.histogram.region.setRegion((lo, hi + 0.01 * (hi - lo)))  # as a drag ends: emitted, then linked
        settle(app)
        written.append(save(window, out / "histogram-brushed.png", width))

        window.linker.clear()
        open_and_wait(window, demo_model_path(INSPECTED_MODEL))
        window.suggest()
        target = most_likely_suggestion(window)
        window.controller.selection.set(np.array([target]), f"sample {target}")  # shown in every view
        window.inspect(target)
        settle(app)
        written.append(save(window, out / "inspector-open.png", width))
    finally:
        window.close()
    return written


def screenshot_window(out: Path, n_samples: int):
    """The application and a shown main window of the screenshot size, drawing ``n_samples`` per model."""
    from PySide6.QtWidgets import QApplication

    from genloupe.app.main_window import build_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GenLoupe")
    out.mkdir(parents=True, exist_ok=True)
    window = build_window()
    window.controller.n_samples = n_samples
    window.resize(*SIZE)
    window.show()
    return app, window


def open_and_wait(window, address: str) -> None:
    """Open a model in the window and return once its session is shown; a failure is an error."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    outcome: dict = {}
    loop = QEventLoop()
    controller = window.controller
    on_loaded = controller.sessionLoaded.connect(lambda view: (outcome.update(view=view), loop.quit()))
    on_failed = controller.failed.connect(lambda message: (outcome.update(error=message), loop.quit()))
    QTimer.singleShot(EVALUATION_TIMEOUT_MS, loop.quit)
    controller.open_model(address)
    loop.exec()
    controller.sessionLoaded.disconnect(on_loaded)
    controller.failed.disconnect(on_failed)
    if "view" not in outcome:
        raise SystemExit(f"screenshots: {address}: {outcome.get('error', 'the evaluation timed out')}")
    settle(QApplication.instance())


def settle(app) -> None:
    """Let the plots draw (one per turn of the event loop) and the views lay out."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(400, loop.quit)
    loop.exec()
    app.processEvents()


def most_likely_suggestion(window) -> int:
    """The suggested 'likely but bad' sample with the highest log-likelihood (else the most likely sample)."""
    flags = window.controller.flag_sets()
    log_px = window.view_data.sample_columns["log_px"]
    suggested = [i for i, labels in flags.items() if "?bad" in labels]
    candidates = np.array(suggested) if suggested else np.arange(len(log_px))
    return int(candidates[np.argmax(log_px[candidates])])


def save(window, path: Path, width: int) -> Path:
    """The window scaled to ``width`` pixels, quantized to 256 colours (text and plots stay sharp, files small)."""
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    shot = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    shot = shot.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
    pixels = np.frombuffer(shot.constBits(), np.uint8).reshape(shot.height(), shot.bytesPerLine())
    rgb = pixels[:, : 3 * shot.width()].reshape(shot.height(), shot.width(), 3)
    image = Image.fromarray(rgb.copy(), "RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
    return path


if __name__ == "__main__":
    sys.exit(main())

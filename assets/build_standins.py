"""Rebuild the stand-in data sets at real shapes: ``python -m genloupe.assets.build_standins``.

Researchers' models live at 1x28x28 grey and 3x32x32 colour on 256 levels; GenLoupe's tests and
benchmarks need data at those shapes without downloading any. Both sets are made from the embedded
scikit-learn digits (8x8, 17 levels), every digit drawn a few times (3 for the grey set, once for
the colour set, to keep the shipped files near 2 MB each): upsampled by a cubic
spline to a random size, smoothed (the strokes of a pen, not 8x8 blocks), placed at a random shift
on the canvas, and, for the colour set, painted with a random ink colour on a random background.
Labels are the digits' own. Deterministic: numpy's seeded generator and scipy's interpolation, so a
rebuild writes the same pixels; the files are compressed .npz archives that ``open_data`` reads
under the names ``digits28`` and ``digits32rgb`` (engine/data/standins.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

STANDIN_DIR = Path(__file__).resolve().parent / "standins"
SEED = 0
SMOOTHING = 0.6  # Gaussian blur (pixels) after upsampling
# name: (channels, side, smallest and largest digit size in pixels, drawings per digit)
SETS = {"digits28": (1, 28, 17, 23, 3), "digits32rgb": (3, 32, 19, 26, 1)}


def ink_maps(digits: np.ndarray, side: int, sizes: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(N, side, side) ink in [0, 1]: each 8x8 digit upsampled to a random size at a random place."""
    canvas = np.zeros((len(digits), side, side))
    for i, digit in enumerate(digits):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        drawn = ndimage.zoom(digit / 16.0, size / 8.0, order=3, grid_mode=True, mode="grid-constant")
        drawn = ndimage.gaussian_filter(np.clip(drawn, 0.0, 1.0), SMOOTHING)
        top, left = rng.integers(0, side - size + 1, size=2)
        canvas[i, top : top + size, left : left + size] = drawn[:size, :size]
    return canvas


def paint(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, H, W) in [0, 1]: a random ink colour over a random background, far apart in brightness."""
    n = len(ink)
    background = rng.uniform(0.0, 0.45, size=(n, 3))
    ink_colour = rng.uniform(0.55, 1.0, size=(n, 3))
    swap = rng.random(n) < 0.5  # half the images are dark ink on a light background
    background[swap], ink_colour[swap] = 1.0 - background[swap], 1.0 - ink_colour[swap]
    return background[:, :, None, None] + (ink_colour - background)[:, :, None, None] * ink[:, None]


def build_set(name: str, digits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, C, H, W) on 256 levels, labels) of stand-in set ``name``."""
    channels, side, smallest, largest, variants = SETS[name]
    rng = np.random.default_rng([SEED, channels, side])
    ink = ink_maps(np.repeat(digits, variants, axis=0), side, (smallest, largest), rng)
    values = ink[:, None] if channels == 1 else paint(ink, rng)
    images = np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    return images, np.repeat(labels, variants)


def build(out: Path = STANDIN_DIR, names: tuple[str, ...] = tuple(SETS)) -> dict[str, int]:
    """Write every set to ``out``/NAME.npz; returns each file's size in bytes."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name in names:
        images, labels = build_set(name, bunch.images, bunch.target.astype(np.int64))
        path = out / f"{name}.npz"
        np.savez_compressed(path, images=images, labels=labels.astype(np.uint8), levels=np.int64(256))
        sizes[name] = path.stat().st_size
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STANDIN_DIR, help="folder to write (default: assets/standins)")
    args = parser.parse_args(argv)
    for name, size in build(args.out).items():
        print(f"{args.out / name}.npz: {SETS[name][0]}x{SETS[name][1]}x{SETS[name][1]}, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

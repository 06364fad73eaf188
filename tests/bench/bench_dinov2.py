"""DINOv2 ViT-L/14 feature throughput (images/s) on a device, and CPU-vs-device agreement, random weights.

    python tests/bench/bench_dinov2.py --device cuda [--n 512 --batch-size 64 --repeats 3]

No weights file is needed: a random ViT-L/14 of the official layout is written to a temporary file and
loaded as ``dinov2`` loads the real one. Prints JSON: median images/s over repeats (32x32 RGB inputs,
resized to 224 as dgm-eval does) and the max abs difference between CPU and device features of 4 images.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genloupe.engine.features import extract_features, get_extractor
from genloupe.engine.features.dinov2 import DINOv2, WEIGHTS_FILE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    weights = Path(tempfile.mkdtemp(prefix="genloupe-bench-dinov2-")) / WEIGHTS_FILE
    torch.manual_seed(0)
    torch.save(DINOv2().state_dict(), weights)
    extractor = get_extractor("dinov2", weights=weights)
    images = np.random.default_rng(0).integers(0, 256, (args.n, 3, 32, 32), dtype=np.uint8)
    rates = []
    for _ in range(args.repeats):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        extract_features(extractor, images, 256, device=args.device, batch_size=args.batch_size, use_cache=False)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        rates.append(args.n / (time.perf_counter() - start))
    few = images[:4]
    on_device = extract_features(extractor, few, 256, device=args.device, use_cache=False).features
    on_cpu = extract_features(extractor, few, 256, device="cpu", use_cache=False).features
    print(json.dumps({
        "device": args.device if not args.device.startswith("cuda") else torch.cuda.get_device_name(),
        "n": args.n, "batch_size": args.batch_size, "images_per_s_median": statistics.median(rates),
        "images_per_s_all": rates, "cpu_vs_device_max_abs_diff": float(np.abs(on_device - on_cpu).max()),
        "feature_scale": float(np.abs(on_cpu).max()),
    }, indent=1))


if __name__ == "__main__":
    main()

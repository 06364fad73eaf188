"""Names shown beside per-sample numbers, chosen so that no two of them read as a contradiction.

Realism and "inside the real manifold" are different tests of the same k-NN balls: realism ≥ 1 means
inside one of the real balls of at most median radius (Kynkäänniemi et al. drop the larger half, which
outliers inflate), while precision counts a sample inside *any* real ball. A sample can be inside an
outlier's large ball with realism 0.38; the names say which balls each test uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

REALISM = "realism (typical-size real balls)"
INSIDE = "inside a real ball (any size)"
NUMBER_NAMES = {"log_px": "log P(x), nats", "bpd": "bits/dim", "realism": REALISM, "nn_distance": "nearest held-out, distance",
                "train_nn_distance": "nearest training, distance"}


def bits_caption(bits: np.ndarray, bpd: float, convention: dict[str, Any] | None) -> str:
    """What the per-pixel map sums to, beside the per-sample bits/dim: the same number, or which estimator each is."""
    mean = float(np.mean(bits))
    if (convention or {}).get("dequantization", "none") == "none":
        return f"bits per pixel · mean {mean:.3f} = bits/dim"
    return f"bits per pixel · mean {mean:.3f} (plain dequantization bound; bits/dim {bpd:.3f} is importance-weighted)"

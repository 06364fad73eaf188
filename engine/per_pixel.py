"""Per-pixel bits of samples and held-out images as an .npz, each map beside the per-image number it sums to.

A per-pixel map is −log2 p(x_i | ·) per dimension, averaged over the dequantization draws for continuous
densities: its mean over the pixels is the plain dequantization bound in bits/dim (``*_bpd_map``), which is
what the map sums to. The reported bits/dim (``*_bpd``) of a continuous density is the importance-weighted
bound over the same draws, a little tighter; for discrete models the two are the same number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import GenLoupeError
from .evaluation import Evaluation
from .likelihood import LN2, LikelihoodResult

MAP_ESTIMATOR = ("per-pixel bits average -log2 p over the K dequantization draws: their mean is the plain bound "
                 "in bits/dim ({source}_bpd_map); {source}_bpd is the importance-weighted bound over the same draws")


def per_pixel_arrays(evaluation: Evaluation) -> dict[str, np.ndarray]:
    """{'sample_bits', 'sample_bpd', 'sample_bpd_map', 'reference_bits', ...} for every source with a map."""
    arrays: dict[str, np.ndarray] = {}
    for source in ("sample", "reference"):
        ll = evaluation.likelihood.get(source)
        if ll is None or ll.per_dim_bits is None:
            continue
        arrays[f"{source}_bits"] = ll.per_dim_bits.astype(np.float32)
        arrays[f"{source}_bpd"] = ll.bpd
        arrays[f"{source}_bpd_map"] = map_bpd(ll)
        arrays[f"{source}_estimator"] = np.array(estimator_note(ll, source))
    return arrays


def map_bpd(ll: LikelihoodResult) -> np.ndarray:
    """The per-image number a per-pixel map sums to (in bits/dim): the plain bound, or log P(x) itself."""
    plain = ll.log_px if ll.log_px_plain is None else ll.log_px_plain
    return -plain / (ll.convention.dims * LN2)


def estimator_note(ll: LikelihoodResult, source: str = "sample") -> str:
    if ll.log_px_plain is None:
        return "per-pixel bits sum to log P(x) exactly: the map's mean is the bits/dim beside it"
    return MAP_ESTIMATOR.format(source=source)


def write_per_pixel(evaluation: Evaluation, path: str | Path) -> list[str]:
    """Write the maps; a model that gives no per-pixel terms is a one-line error (nothing to write)."""
    arrays = per_pixel_arrays(evaluation)
    if not arrays:
        raise GenLoupeError(f"{evaluation.model_info.get('name', 'this model')} gives no per-pixel bits "
                            "(only factorized and autoregressive models, and flows that provide them, do)")
    np.savez_compressed(path, **arrays)
    return sorted(arrays)

"""Probes on open: a few dozen samples and log-likelihoods that catch a model's wrong conventions.

A model brought from outside can be wrong in ways that give plausible numbers: samples returned as
levels 0..16 instead of values in [0, 1] (clamped into a white image), a ``log_prob`` that truncates
``y.long()`` (a *better* bits/dim than the correct one), a sampler that draws in another order than ``log_prob`` scores (:func:`check_sampler_consistency`).
Every loaded model goes
through :func:`probe_model` once; a failure is a one-line ModelError saying what to fix, and a case
that can be legitimate (a uniform model, a density with mass outside [0, 1]) a warning kept in
``info.extra['warnings']``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from ..likelihood import evaluate_likelihood
from ..models.base import ModelInfo
from ..sampling import on_grid, quantize

PROBE_SAMPLES = 32  # samples drawn and scored: a few dozen, enough for a mean to within ~0.05 bits/dim
FIRST_SAMPLES = 4  # drawn first: a model that takes long for them is probed on these alone
PROBE_SECONDS = 2.0  # what sampling and the conditionals may take, beyond the first draw
PROBE_IMAGES = 8  # images moved by one level, and nudged
RANGE_TOLERANCE = 1e-4  # float error of a transform back to [0, 1]
DENSITY_BAND = 0.5  # a density's samples may leave [0, 1] by this much (clipped, with a warning)
GRID_TOLERANCE = 1e-3  # in levels: a discrete model's samples must sit this close to the grid
NUDGE = 0.01  # in levels: what a round trip through a file or another dtype may move a grid value by
MAX_POSITIVE_NATS = 1e-3  # a discrete log P(x) above this is impossible, not float error
CEILING_MARGIN = {"exact": 0.25, "lower_bound": 0.5}  # bits/dim above log2 L own samples may score
SAMPLE_GAP = 0.5  # bits/dim (and 30% of held-out's) own samples may score worse than held-out data
CONSISTENCY_EVALUATIONS = 16384  # log_prob evaluations the sampler-consistency probe may spend
CONSISTENCY_PIXELS = 16  # pixels probed per sample at most
CONSISTENCY_Z = 4.0  # standard errors below zero that fail it
PROBE_BATCH = 256  # images per log_prob call of a probe (a large model's memory)


def _draw(model: Any, n: int) -> tuple[torch.Tensor, float]:
    """n seeded samples and the seconds they took."""
    start = time.perf_counter()
    values = model.sample(n, torch.Generator(device=model.device).manual_seed(0))
    return values, time.perf_counter() - start


def probe_model(model: Any, where: str) -> list[str]:
    """Run every probe on a loaded model; raise ModelError on a failure, return the warnings.

    A model whose samples are slow (an autoregressive model at real sizes on a CPU) is probed on the
    FIRST_SAMPLES it drew first, and its conditionals within PROBE_SECONDS: opening stays cheap.
    """
    info: ModelInfo = model.info
    warnings: list[str] = []
    stored = getattr(model, "stored", None)  # (a bundle's stored log P(x) is checked where it is read)
    n = PROBE_SAMPLES if stored is None else min(PROBE_SAMPLES, len(stored.images))
    with torch.inference_mode():
        values, seconds = _draw(model, min(n, FIRST_SAMPLES))
        if n > FIRST_SAMPLES and seconds * n / FIRST_SAMPLES <= PROBE_SECONDS:
            values, _ = _draw(model, n)
        warnings += check_sample_values(values, info, where)
        if info.likelihood != "none":
            images = quantize(values, info.levels, on_grid(info)).cpu()
            start = time.perf_counter()
            check_discrete_mass(model, images, where)
            per_image = (time.perf_counter() - start) / len(images)
            warnings += check_sensitivity(model, images[:PROBE_IMAGES], where)
    if info.likelihood != "none":
        budget = int(PROBE_SECONDS / max(per_image, 1e-9))  # log_prob evaluations the probes may still spend
        check_own_samples_ceiling(model, images[: max(FIRST_SAMPLES, budget // 2)], where)
        check_sampler_consistency(model, images, where, budget=budget)
    return warnings


def check_sample_values(values: torch.Tensor, info: ModelInfo, where: str) -> list[str]:
    """Samples in [0, 1], on the grid for discrete models; never clamped without a word."""
    low, high = float(values.min()), float(values.max())
    density = info.likelihood != "none" and not info.discrete
    band = DENSITY_BAND if density else RANGE_TOLERANCE
    if low < -band or high > 1.0 + band:
        looks_like = ""
        if low >= 0 and abs(high - round(high)) < 1e-6 and high >= 2:
            looks_like = f" (they look like levels 0..{round(high)}: divide by L - 1 = {info.levels - 1})"
        elif low < -band and high <= 1.0 + band:
            looks_like = " (they look like values in [-1, 1]: map them with (v + 1) / 2)"
        raise ModelError(f"{where}: sample returned values in [{low:.4g}, {high:.4g}], outside [0, 1]{looks_like}; "
                         "samples must be values in [0, 1], levels x as x/(L-1); GenLoupe does not clamp them")
    if info.discrete:
        scaled = values.double() * (info.levels - 1)
        off = (scaled - scaled.round()).abs()
        if float(off.max()) > GRID_TOLERANCE:
            value = float(values.flatten()[int(off.argmax())])
            raise ModelError(f"{where}: a discrete model's samples must lie on the grid x/(L-1) of its {info.levels} "
                             f"levels; {value:.4g} lies between levels (declare discrete=False for a density, or the "
                             "right levels in its ModelInfo)")
    if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
        outside = float(((values < 0) | (values > 1)).double().mean())
        return [f"{outside:.1%} of the probe samples' values lie outside [0, 1] (from {low:.3g} to {high:.3g}); "
                "they are clipped to the end levels"]
    return []


def _log_prob(model: Any, y: torch.Tensor) -> torch.Tensor:
    """log_prob with the same generator state each call, so a stochastic bound sees the same draws."""
    generator = torch.Generator(device=model.device).manual_seed(0)
    return model.log_prob(y.to(model.device), generator).double().cpu()


def _inputs(images: torch.Tensor, info: ModelInfo) -> torch.Tensor:
    """Integer levels as the engine hands them over: grid values, or the middle of each bin for a density."""
    x = images.to(torch.float32)
    return x / (info.levels - 1) if info.discrete else (x + 0.5) / info.levels


def check_discrete_mass(model: Any, images: torch.Tensor, where: str) -> None:
    """A probability cannot exceed 1: a discrete model's log P(x) is at most 0."""
    info = model.info
    if not info.discrete:
        return
    top = float(_log_prob(model, _inputs(images, info)).max())
    if top > MAX_POSITIVE_NATS:
        raise ModelError(f"{where}: log_prob gave log P(x) = {top:+.4g} nats for a discrete image, above 0, which no "
                         "probability can be; a discrete model returns log P of the grid image x/(L-1) (a density "
                         "must declare discrete=False)")


def _moved(images: torch.Tensor, levels: int, interior: bool) -> torch.Tensor:
    """Each image with one pixel one level up: an interior level, or one at level 0, where there is one."""
    moved = images.clone().reshape(len(images), -1)
    for row in moved:
        wanted = torch.nonzero((row >= 1) & (row <= levels - 3) if interior else row == 0).flatten()
        choices = wanted if len(wanted) else torch.nonzero(row < levels - 1).flatten()
        if len(choices):
            row[choices[len(choices) // 2]] += 1
    return moved.reshape(images.shape)


def check_sensitivity(model: Any, images: torch.Tensor, where: str) -> list[str]:
    """log_prob must see a one-level move, and must not see a grid image nudged within its level."""
    info = model.info
    base = _log_prob(model, _inputs(images, info))
    moves = [_log_prob(model, _inputs(_moved(images, info.levels, interior), info)) for interior in (True, False)]
    if not any(bool(((moved - base).abs() > 1e-6 * (1.0 + base.abs())).any()) for moved in moves):
        if float(base.max() - base.min()) <= 1e-6 * (1.0 + float(base.abs().max())):
            return ["log_prob gives the same value for every image probed (a uniform model?)"]
        raise ModelError(f"{where}: log_prob did not change when one pixel moved one level (in {2 * len(images)} moves) "
                         "although it differs between images: it reads its input coarser than the grid, e.g. "
                         "y.long() of values in [0, 1]; map grid values to levels with torch.round(y * (L - 1))")
    if info.discrete:
        step = NUDGE / (info.levels - 1)
        y = _inputs(images, info)
        for nudged in ((y - step).clamp(min=0.0), (y + step).clamp(max=1.0)):
            other = _log_prob(model, nudged)
            worst = int((other - base).abs().argmax())
            if abs(float(other[worst] - base[worst])) > 0.1 + 1e-4 * abs(float(base[worst])):
                raise ModelError(
                    f"{where}: log_prob gives {float(base[worst]):.4f} for a grid image and {float(other[worst]):.4f} "
                    f"for the same image moved by {NUDGE} of a level (as a round trip through a file or another "
                    "dtype does): it truncates levels (y.long(), int(), floor); round them: "
                    "x = torch.round(y * (L - 1)).long()")
    return []


def own_samples_bpd(model: Any, images: torch.Tensor) -> float:
    """Mean bits/dim of the model's own (quantized) samples, by the engine's likelihood convention."""
    result = evaluate_likelihood(model, images.numpy().astype(np.int64), model.info.levels, k_deq=4,
                                 device=model.device, batch_size=len(images))
    return result.mean_bpd


def check_own_samples_ceiling(model: Any, images: torch.Tensor, where: str) -> None:
    """No distribution on L^D images has entropy above D log2 L: its own samples cannot score worse."""
    info = model.info
    ceiling = math.log2(info.levels)
    margin = CEILING_MARGIN["exact" if info.likelihood == "exact" and info.discrete else "lower_bound"]
    bpd = own_samples_bpd(model, images)
    if bpd > ceiling + margin:
        raise ModelError(f"{where}: its own samples score {bpd:.3f} bits/dim, worse than a uniform model's "
                         f"{ceiling:.3f}, which no model's own samples can: sample() does not draw from what log_prob "
                         "scores (a sampling order other than log_prob's, a missing transform)")


def check_sampler_consistency(model: Any, images: torch.Tensor, where: str,
                              budget: int = CONSISTENCY_EVALUATIONS) -> None:
    """A discrete exact model's samples must be draws from the conditionals its own log_prob implies.

    For one pixel i of a sample x, log_prob over the L values of x_i (the rest fixed) gives the
    conditional P(x_i | x_-i). If x ~ P, then E[log P(x_i | x_-i) + H(P(. | x_-i))] = 0 exactly, for any
    model, trained or not. A sampler that draws in another order than log_prob conditions (a MADE
    sampled in raster order while its masks follow a permutation) falls far below zero.
    """
    info = model.info
    budget = min(budget, CONSISTENCY_EVALUATIONS)
    if not (info.discrete and info.likelihood == "exact") or info.levels * min(len(images), 4) > budget:
        return  # more evaluations than a probe may spend (16-bit data, a slow model): not probed
    levels, dims = info.levels, info.dims
    n = min(len(images), max(4, budget // levels))
    pixels = max(1, min(CONSISTENCY_PIXELS, dims, budget // (levels * n)))
    flat = images[:n].reshape(n, dims).long()
    chosen = torch.randperm(dims, generator=torch.Generator().manual_seed(1))[:pixels].tolist()
    terms = torch.zeros(n, dtype=torch.float64)
    values = torch.arange(levels).repeat_interleave(n)
    with torch.inference_mode():
        for i in chosen:
            batch = flat.repeat(levels, 1)
            batch[:, i] = values
            y = (batch.to(torch.float32) / (levels - 1)).reshape(levels * n, *info.data_shape)
            scores = torch.cat([_log_prob(model, part) for part in y.split(PROBE_BATCH)])
            conditional = torch.log_softmax(scores.view(levels, n), 0)
            terms += conditional[flat[:, i], torch.arange(n)] - (conditional.exp() * conditional).sum(0)
    mean, error = float(terms.mean()), float(terms.std()) / math.sqrt(n)
    if mean < -CONSISTENCY_Z * max(error, 1e-3):
        raise ModelError(f"{where}: its own samples are not draws from what log_prob scores: probed pixels are "
                         f"{-mean / pixels:.2f} nats less likely under log_prob's own conditionals than draws from "
                         f"them would be ({-mean / max(error, 1e-12):.1f} standard errors over {n} samples); does "
                         "sample() follow the order in which log_prob conditions (a MADE's masks)?")


def own_samples_warning(sample_bpd: float, heldout_bpd: float) -> str | None:
    """A warning when a model's own samples score far worse than held-out data under the same model.

    A correct sampler's samples score about as well as the data the model fits (better, often). Far
    worse is the mark of a sampler that does not draw from what log_prob scores (a MADE sampled in
    another order than its masks), of an undertrained model, or of one that puts mass on noise on
    purpose: a warning, where :func:`check_sampler_consistency` can prove the first case for
    discrete exact models.
    """
    if sample_bpd - heldout_bpd > max(SAMPLE_GAP, 0.3 * heldout_bpd):
        return (f"the model's own samples score {sample_bpd:.3f} bits/dim, held-out images {heldout_bpd:.3f}: does "
                "sample() draw in the order log_prob scores? (an undertrained model, or one that mixes in noise, does this "
                "too)")
    return None


"""The full evaluation of one model against reference data: the task behind ``genloupe evaluate`` and the window.

Stages: draw samples -> log-likelihood of samples and of held-out reference images -> features ->
metrics (FID, KID, IS, precision/recall with realism, density/coverage, nearest real neighbours) ->
a 2-D projection for the manifold view. Partial results are handed to ``progress.partial`` as
``(stage, value, ...)`` so a window can show samples before the metrics are done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import metrics as M
from .calibration import score_against_training
from .checkpoints.probes import own_samples_warning
from .compatibility import check_compatibility, features_note
from .data import Dataset
from .device import resolve_device
from .errors import MetricError
from .features import extract_features, get_extractor
from .likelihood import Convention, LikelihoodResult, evaluate_likelihood
from .metric_names import ALL_METRICS
from .models.base import GenerativeModel
from .progress import Progress, null_progress
from .rank_correlation import spearman_bpd_realism
from .sampling import draw_samples

FID_SUBSETS = 5  # disjoint subsets behind FID's interval (used when each holds at least 20 samples)


@dataclass(frozen=True)
class EvaluationSettings:
    n_samples: int = 1000
    metrics: tuple[str, ...] = ALL_METRICS
    features: str = "auto"  # follows the data: compatibility.default_features
    feature_options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    seed: int = 0
    k_deq: int = 8
    k_bound: int | None = None
    k_pr: int = 3
    k_dc: int = 5
    batch_size: int = 256
    memory_budget: int = 1 << 30
    per_pixel_reference: bool = False  # per-pixel bits of the held-out images too (samples always, where given)


@dataclass
class Evaluation:
    """Everything one evaluation produced: per-sample columns per source, scalar metrics, provenance."""

    model_info: dict[str, Any]
    reference_name: str
    reference_checksum: str
    settings: EvaluationSettings
    device: str
    samples: np.ndarray  # (n, C, H, W) integer levels
    reference: np.ndarray
    levels: int
    likelihood: dict[str, LikelihoodResult] = field(default_factory=dict)  # 'sample', 'reference'
    columns: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # source -> name -> values
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    real_nn_distance: np.ndarray | None = None  # each real image's distance to its nearest other real image
    training: np.ndarray | None = None  # the images the model was trained on, searched for copies
    training_nn_distance: np.ndarray | None = None  # each training image's distance to its nearest other one
    timings: dict[str, float] = field(default_factory=dict)
    scoring_info: dict[str, Any] | None = None  # the model that scored the likelihood, when not the model itself
    warnings: list[str] = field(default_factory=list)  # what the numbers need read with (see checkpoints.probes)


def evaluate(
    model: GenerativeModel,
    reference: Dataset,
    settings: EvaluationSettings = EvaluationSettings(),
    *,
    scoring_model: GenerativeModel | None = None,
    further: dict[str, np.ndarray] | None = None,
    training: np.ndarray | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Sample ``model`` and score samples and ``reference`` images (see the module docstring).

    ``scoring_model`` scores the likelihood when ``model`` has none (the hybrid's GAN head is scored
    under its VAE head); by default the model scores itself. ``further`` names more image sets (on the
    reference's levels) whose likelihood is worth seeing beside the held-out one, e.g. the training
    split: a gap between the two is overfitting, the likelihood's view of memorization. ``training``
    holds the images the model learnt from: each sample's nearest training image (``train_nn_id``,
    ``train_nn_distance``) is the feature view of memorization — a copy is near, a new draw is not.
    """
    progress = progress or null_progress()
    unknown = set(settings.metrics) - set(ALL_METRICS)
    if unknown:
        raise MetricError(f"unknown metrics {', '.join(sorted(unknown))}; choose from {', '.join(ALL_METRICS)}")
    features = check_compatibility(  # before any sampling: a misfit fails in a second, not after minutes
        model.info, reference.shape, reference.levels, settings.features, settings.feature_options,
        scorer=scoring_model.info if scoring_model is not None else None, needs_features=bool(set(settings.metrics) - {"ll"}),
    )
    settings = replace(settings, features=features)
    device = resolve_device(settings.device)
    timer = _Timer()
    result = Evaluation(
        model_info=model.info.to_dict(),
        reference_name=reference.name,
        reference_checksum=reference.checksum(),
        settings=settings,
        device=str(device),
        samples=np.zeros((0, *model.info.data_shape), np.uint8),
        reference=reference.images,
        levels=reference.levels,
        timings=timer.timings,
        training=training,
        scoring_info=scoring_model.info.to_dict() if scoring_model is not None else None,
        warnings=list(model.info.extra.get("warnings") or []),
    )
    stored = getattr(model, "stored", None)  # a sample bundle: its own samples, in order
    with timer("sampling"):
        if stored is not None:
            result.samples = stored.images[: settings.n_samples]
        else:
            result.samples = draw_samples(
                model, settings.n_samples, seed=settings.seed, batch_size=settings.batch_size, device=device,
                progress=progress,
            )
    progress.partial(("samples", result.samples, reference.levels))
    further = further or {}
    result.columns = {"sample": {}, "reference": {}, **{name: {} for name in further}}
    scorer = scoring_model or model
    if "ll" in settings.metrics and stored is not None and stored.log_px is not None and scoring_model is None:
        ll = _stored_likelihood(stored, len(result.samples), model.info.dims, settings.seed)
        result.likelihood["sample"] = ll
        result.columns["sample"].update(log_px=ll.log_px, bpd=ll.bpd)
    if "ll" in settings.metrics and scorer.info.likelihood != "none":
        with timer("likelihood"):
            for source, images in (("sample", result.samples), ("reference", reference.images), *further.items()):
                ll = evaluate_likelihood(
                    scorer, images, reference.levels, k_deq=settings.k_deq, k_bound=settings.k_bound,
                    seed=settings.seed, batch_size=settings.batch_size, device=device, progress=progress,
                    per_dim=source == "sample" or (source == "reference" and settings.per_pixel_reference),
                )
                result.likelihood[source] = ll
                result.columns[source].update(log_px=ll.log_px, bpd=ll.bpd)
        progress.partial(("likelihood", result.likelihood))
        if scoring_model is None and stored is None and {"sample", "reference"} <= set(result.likelihood):
            gap = own_samples_warning(result.likelihood["sample"].mean_bpd, result.likelihood["reference"].mean_bpd)
            result.warnings += [gap] if gap else []
    feature_metrics = set(settings.metrics) - {"ll"}
    if feature_metrics:
        _feature_stage(result, reference, settings, feature_metrics, device, timer, progress)
        if training is not None:
            with timer("calibration"):  # samples and held-out images scored alike, for calibrated suggestions
                score_against_training(result, settings, device, progress)
    result.metrics.update(_likelihood_summaries(result, scoring_model.info.name if scoring_model is not None else None))
    result.metrics.update(spearman_bpd_realism(result.columns["sample"]))
    return result


def _feature_stage(result: Evaluation, reference: Dataset, settings: EvaluationSettings, wanted: set[str],
                   device, timer: "_Timer", progress: Progress) -> None:
    extractor = get_extractor(settings.features, **settings.feature_options)
    with timer("features"):
        real = extract_features(extractor, reference.images, reference.levels, device=device, progress=progress)
        fake = extract_features(extractor, result.samples, reference.levels, device=device, progress=progress)
    convention = f"{extractor.name} features (d={real.features.shape[1]})"
    if features_note(settings.features):
        convention += f"; {features_note(settings.features)}"
    n_real, n_fake = len(real.features), len(fake.features)
    sizes = {"n_real": n_real, "n_fake": n_fake, "convention": convention}
    with timer("metrics"):
        smallest = min(n_real, n_fake)
        if "fid" in wanted:
            with timer("metric fid"):
                fid = M.frechet_distance(real.features, fake.features, subsets=FID_SUBSETS if smallest >= 20 * FID_SUBSETS else 0,
                                         seed=settings.seed, device=device, memory_budget=settings.memory_budget)
            result.metrics["fid"] = {"value": fid.value, **_interval(fid.interval), "value_infinity": fid.value_infinity, **sizes}
        if "kid" in wanted:
            with timer("metric kid"):
                kid = M.kid(real.features, fake.features, subset_size=min(1000, smallest), seed=settings.seed,
                            device=device, memory_budget=settings.memory_budget)
            result.metrics["kid"] = {"value": kid.mean, "std": kid.std, "method": f"± std over {kid.subsets} random "
                                     f"subsets of {kid.subset_size}", **_interval(kid.interval), **sizes,
                                     "precision": kid.precision,
                                     "convention": f"{convention}; unbiased MMD², cubic polynomial kernel"}
        if "is" in wanted and fake.logits is not None:
            score = M.inception_score(fake.logits, splits=min(10, n_fake))
            result.metrics["is"] = {"value": score.mean, "std": score.std, **_interval(score.interval), "n_fake": n_fake,
                                    "convention": f"{extractor.name} logits, {min(10, n_fake)} splits"}
        with timer("metric precision/recall, density/coverage, nearest neighbours"):
            manifold = M.manifold_metrics(
                real.features, fake.features, k_pr=settings.k_pr if "pr" in wanted else None,
                k_dc=settings.k_dc if "dc" in wanted else None, k_nn=1, real_nearest=True, device=device,
                memory_budget=settings.memory_budget, progress=progress,
            )
        if manifold.precision_recall is not None:
            pr = manifold.precision_recall
            result.metrics["precision"] = {"value": pr.precision, "k": pr.k, **_interval(pr.precision_interval), **sizes}
            result.metrics["recall"] = {"value": pr.recall, "k": pr.k, **_interval(pr.recall_interval), **sizes}
            result.columns["sample"].update(realism=pr.realism, in_manifold=pr.fake_in_real)
            result.columns["reference"].update(in_manifold=pr.real_in_fake)
        if manifold.density_coverage is not None:
            dc = manifold.density_coverage
            result.metrics["density"] = {"value": dc.density, "k": dc.k, **_interval(dc.density_interval), **sizes}
            result.metrics["coverage"] = {"value": dc.coverage, "k": dc.k, **_interval(dc.coverage_interval), **sizes}
        nearest = manifold.nearest
        result.columns["sample"].update(nn_id=nearest.indices[:, 0].astype(np.int64), nn_distance=nearest.distances[:, 0])
        result.real_nn_distance = manifold.real_nn_distance  # each real image's nearest *other* real image
        if result.training is not None:
            seen = extract_features(extractor, result.training, reference.levels, device=device, progress=progress)
            copies = M.nearest_real(fake.features, seen.features, k=1, device=device, memory_budget=settings.memory_budget)
            result.columns["sample"].update(train_nn_id=copies.indices[:, 0].astype(np.int64),
                                            train_nn_distance=copies.distances[:, 0])
            result.training_nn_distance = M.nearest_real(seen.features, seen.features, k=2, device=device,
                                                         memory_budget=settings.memory_budget).distances[:, 1]
    projection = pca_projection(real.features, fake.features)
    for source, xy in zip(("reference", "sample"), projection):
        result.columns[source].update(proj_x=xy[:, 0], proj_y=xy[:, 1])
    progress.partial(("metrics", result.metrics))


def _stored_likelihood(stored: Any, n: int, dims: int, seed: int) -> LikelihoodResult:
    """The log-likelihoods a sample bundle carries, already on GenLoupe's scale, with their convention."""
    declared = stored.convention or {}
    convention = Convention(
        levels=stored.levels, dims=dims, discrete=declared.get("space", "discrete") == "discrete",
        kind=declared.get("kind", "exact"), estimator=declared.get("estimator", "stored values"),
        dequantization="none", k_dequantization=None, k_bound=declared.get("k"), seed=seed,
    )
    return LikelihoodResult(log_px=stored.log_px[:n], log_px_plain=None, per_dim_bits=None, convention=convention)


def _interval(interval: M.Interval | None) -> dict[str, Any]:
    """A metric's interval as the 'ci' and 'method' entries (nothing when there is none)."""
    if interval is None:
        return {}
    return {"ci": [interval.low, interval.high], "method": f"{interval.level:.0%} interval, {interval.method}"}


def pca_projection(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project both sets on the two leading principal axes of the *real* features (a fixed frame)."""
    mean = real.mean(0, dtype=np.float64)
    _, _, vt = np.linalg.svd(real - mean, full_matrices=False)
    axes = vt[:2].T
    return ((real - mean) @ axes).astype(np.float32), ((fake - mean) @ axes).astype(np.float32)


def _likelihood_summaries(result: Evaluation, scored_under: str | None = None) -> dict[str, dict[str, Any]]:
    """Mean bits/dim per source; a likelihood-free model's numbers name the model that scored them."""
    under = f"scored under {scored_under}: " if scored_under else ""
    return {
        f"mean_bpd_{source}": {
            "value": ll.mean_bpd,
            "mean_nats": ll.mean_nats,
            "n": len(ll.log_px),
            "convention": under + ll.convention.describe(),
            **({"scored_under": scored_under} if scored_under else {}),
        }
        for source, ll in result.likelihood.items()
    }


class _Timer:
    """Seconds per stage, accumulated into ``timings``; stages may nest (each metric within "metrics")."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

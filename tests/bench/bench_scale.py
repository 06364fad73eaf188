"""Evaluation throughput at a real size: N samples against N reference images of 3×32×32, stage by stage,
and the metric stage against torch-fidelity on the same features, with the arithmetic it has to do.

    python tests/bench/bench_scale.py [--n 10000] [--features pixels,inception-fid] [--repeats 3] [--json OUT] [--scratch DIR]
    python tests/bench/bench_scale.py --metrics-only --n 50000 --dim 2048 [--device cuda]     # GPU targets

End to end: a diagonal Gaussian fitted to N seeded synthetic 3×32×32 images (256 levels) is evaluated by
``genloupe.engine.evaluation.evaluate`` against them (N samples, every metric), once per feature space:
``pixels`` and ``inception-fid`` on RANDOM weights (seeded, scale-preserving, saved to a scratch file: the
cost is the network's, the values mean nothing). The evaluation's own timings give the
stages (sampling, likelihood, features, metrics) and each metric within the metric stage.

Then, on the same features (read back from the evaluation's feature cache), each metric is run alone in a
fresh child process, ours and torch-fidelity's alternately (FID, KID with 100 subsets of 1000, precision
and recall with k = 3): wall time and peak memory added (see bench_metrics.py). Ours computes more than
theirs for the same names (FD of 5 subsets for an interval and FID_inf, KID's float64 rechecks, exact
k-NN with density, coverage, realism and nearest neighbours); the ratio compares what each program runs.

The arithmetic: the floating-point operations of our metric stage, counted from the sizes as the code
runs them (products only, which dominate), divided by this machine's matrix-product rates measured in the
same run (float32 and float64, 2048-wide products on the evaluation's device), give the time the
arithmetic alone needs; the goal is a metric stage within 2× of it.

torch-fidelity's metric code is compiled from its installed files without importing the package (as
tests/engine/test_metrics_reference.py does; ``pip install --no-deps torch-fidelity``). Where it is
missing — the GPU machines — that part is skipped with a note and ours still runs.

``--scratch DIR`` keeps the scratch folder (random weights, the evaluation's feature cache, the features the
metric children read): a rerun with the same DIR evaluates again, but its features stage reads the cache,
so the metric stage can be re-measured without the Inception network's 40 minutes on two cores.

``--metrics-only`` skips the evaluation and times ours on seeded Gaussian features of ``--dim`` columns on
the device, against the targets of issue 9 (50 000 vs 50 000 at d = 2048 on an H100-class card: P/R/D/C
≤ 1 s, KID ≤ 0.5 s, FD ≤ 0.1 s). It imports only engine code, so it runs where PySide6 is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import ROOT, _environment, _measured, run_child  # noqa: E402 (also makes the engine importable)

SHAPE = (3, 32, 32)
LEVELS = 256
FID_SUBSETS, KID_SUBSETS, KID_SUBSET_SIZE, K_PR, K_DC = 5, 100, 1000, 3, 5
GPU_TARGETS_S = {"prdc": 1.0, "kid": 0.5, "fd": 0.1}


# ----------------------------------------------------------------------------------------------- children


def synthetic_images(n: int, seed: int):
    """Seeded 3×32×32 images with structure (blurred colour blobs and noise), 256 levels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    blobs = rng.random((n, 3, 8, 8))
    smooth = blobs.repeat(4, axis=2).repeat(4, axis=3)
    images = 0.75 * smooth + 0.25 * rng.random((n, *SHAPE))
    return np.clip(np.rint(images * (LEVELS - 1)), 0, LEVELS - 1).astype(np.uint8)


def child_evaluate(n: int, features: str, device: str, scratch: str) -> dict[str, Any]:
    """One evaluation end to end; saves the features it used for the metric children."""
    import numpy as np
    import torch

    from genloupe.engine.data import Dataset
    from genloupe.engine.evaluation import EvaluationSettings, evaluate
    from genloupe.engine.features import extract_features, get_extractor
    from genloupe.engine.models.gaussian import DiagonalGaussian

    reference = Dataset(name="synthetic 3x32x32", images=synthetic_images(n, 1), levels=LEVELS)
    model = DiagonalGaussian(list(SHAPE), LEVELS)
    model.init_from_data(torch.from_numpy(synthetic_images(n, 2)), torch.Generator().manual_seed(0))
    settings = EvaluationSettings(n_samples=n, features=features, device=device)
    measured = _measured(lambda: evaluate(model, reference, settings))
    result = measured.pop("result")
    extractor = get_extractor(features)  # the evaluation's features, from its cache
    for name, images in (("real", reference.images), ("fake", result.samples)):
        found = extract_features(extractor, images, LEVELS, device=device)
        np.save(Path(scratch) / f"{features}-{name}.npy", found.features)
    return {"wall_s": measured["seconds"], "peak_rss_mib": measured["peak_rss_mib"],
            "peak_increase_mib": measured["peak_increase_mib"], "device": result.device,
            "timings_s": result.timings, "dim": int(found.features.shape[1]),
            "values": {name: metric.get("value") for name, metric in result.metrics.items()}}


def _load(scratch: str, features: str, device: str):
    import numpy as np
    import torch

    real, fake = (np.load(Path(scratch) / f"{features}-{name}.npy") for name in ("real", "fake"))
    if device.startswith("cuda"):
        return torch.from_numpy(real).to(device), torch.from_numpy(fake).to(device)
    return real, fake


def _synchronized(call, device: str):
    def run() -> Any:
        result = call()
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        return result

    return run


def our_call(metric: str, real, fake, device: str):
    """Our metric exactly as the evaluation calls it."""
    from genloupe.engine import metrics as M

    smallest = min(len(real), len(fake))
    if metric == "fid":
        return lambda: M.frechet_distance(real, fake, subsets=FID_SUBSETS if smallest >= 20 * FID_SUBSETS else 0,
                                          device=device).value
    if metric == "fd_step":  # one FD from fitted statistics, as bench_metrics.py (a) times it
        a, b = (M.feature_statistics(x, device=device) for x in (real, fake))
        return lambda: M.frechet_distance_from_statistics(a, b, device=device)
    if metric == "kid":
        return lambda: M.kid(real, fake, subsets=KID_SUBSETS, subset_size=min(KID_SUBSET_SIZE, smallest), device=device).mean
    if metric == "prdc":
        def prdc() -> dict[str, float]:
            m = M.manifold_metrics(real, fake, k_pr=K_PR, k_dc=K_DC, k_nn=1, real_nearest=True, device=device)
            return {"precision": m.precision_recall.precision, "recall": m.precision_recall.recall,
                    "density": m.density_coverage.density, "coverage": m.density_coverage.coverage}
        return prdc
    raise ValueError(metric)


def torch_fidelity_call(metric: str, real, fake):
    """torch-fidelity's metric code on the same features (float32 tensors, its defaults)."""
    import torch

    sys.path.insert(0, str(ROOT))
    from tests.engine.test_metrics_reference import installed_functions, torch_fidelity_kid

    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    if metric == "kid":
        kid = torch_fidelity_kid().kid_features_to_metric
        size = min(KID_SUBSET_SIZE, len(real), len(fake))
        return lambda: kid(fake_t, real_t, kid_subsets=KID_SUBSETS, kid_subset_size=size, verbose=False)[
            "kernel_inception_distance_mean"]
    namespace: dict[str, Any] = {}
    helpers = installed_functions("torch_fidelity", "helpers.py", ["vassert", "vprint", "get_kwarg"], namespace)
    exec(compile((helpers.path.parent / "defaults.py").read_text(), str(helpers.path.parent / "defaults.py"), "exec"),
         namespace)
    import numpy as np

    common = {"np": np, "torch": torch, "get_kwarg": namespace["get_kwarg"], "vprint": namespace["vprint"]}
    if metric == "fid":
        fid = installed_functions("torch_fidelity", "metric_fid.py",
                                  ["KEY_METRIC_FID", "fid_features_to_statistics", "fid_statistics_to_metric"], common)
        return lambda: fid.fid_statistics_to_metric(fid.fid_features_to_statistics(fake_t),
                                                    fid.fid_features_to_statistics(real_t), False)["frechet_inception_distance"]
    if metric == "prdc":
        names = ["KEY_METRIC_PRECISION", "KEY_METRIC_RECALL", "KEY_METRIC_F_SCORE", "calc_cdist_part",
                 "calculate_precision_recall_part", "calc_cdist_full", "calculate_precision_recall_full",
                 "prc_features_to_metric"]
        prc = installed_functions("torch_fidelity", "metric_prc.py", names, common)
        return lambda: prc.prc_features_to_metric(fake_t, real_t, verbose=False, prc_neighborhood=K_PR)
    raise ValueError(metric)


def child_metric(impl: str, metric: str, features: str, device: str, scratch: str) -> dict[str, Any]:
    real, fake = _load(scratch, features, device)
    call = our_call(metric, real, fake, device) if impl == "ours" else torch_fidelity_call(metric, real, fake)
    call = _synchronized(call, device)
    if device.startswith("cuda"):
        call()  # warm-up: CUDA context, kernels, cuBLAS and cuSOLVER handles
    measured = _measured(call)
    result = measured.pop("result")
    measured["value"] = result if isinstance(result, (dict, float)) else float(result)
    return measured


def child_gaussian_metrics(n: int, dim: int, device: str) -> dict[str, Any]:
    """--metrics-only: ours on seeded Gaussian features made on the device, each metric after a warm-up."""
    import torch

    generator = torch.Generator(device=device).manual_seed(0)
    real = torch.randn(n, dim, generator=generator, device=device)
    fake = 1.05 * torch.randn(n, dim, generator=generator, device=device) + 0.02
    out = {}
    for metric in ("fd_step", "fid", "kid", "prdc"):
        call = _synchronized(our_call(metric, real, fake, device), device)
        call()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            value = call()
            times.append(time.perf_counter() - start)
        out[metric] = {"seconds": statistics.median(times), "runs": times,
                       "value": value if isinstance(value, dict) else float(value)}
    return out


def child_matmul_rates(device: str) -> dict[str, float]:
    """Sustained matrix-product rates (GFLOP/s) at the metrics' shapes: float32 and float64, 2048 wide."""
    import numpy as np
    import torch

    from genloupe.engine.metrics.linalg import matmul

    rates = {}
    for dtype in (torch.float32, torch.float64):
        a = torch.rand(4096, 2048, dtype=dtype, device=device)
        b = torch.rand(2048, 2048, dtype=dtype, device=device)
        out = torch.empty(4096, 2048, dtype=dtype, device=device)
        run = _synchronized(lambda: matmul(a, b, out=out), device)
        run()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        rates[str(dtype).removeprefix("torch.")] = 2 * 4096 * 2048 * 2048 / float(np.median(times)) / 1e9
    return rates


# ------------------------------------------------------------------------------------------------ counting


def metric_flops(n_real: int, n_fake: int, dim: int, device: str) -> dict[str, dict[str, float]]:
    """Floating-point operations of the products our metric stage runs (as the code runs them), by precision."""
    from genloupe.engine.metrics.kid import RECHECKED
    from genloupe.engine.metrics.knn import work_width

    width = work_width(dim)

    def fit(n: int) -> float:  # a covariance (n > d): the centred rows' rank-k update (NumPy's a.T @ a)
        return 1.0 * n * dim * dim if n > dim else 0.0

    def trace_sqrt(n1: int, n2: int) -> float:
        thin = sorted(n for n in (n1, n2) if n <= dim)
        if len(thin) == 2:
            r1, r2 = thin
            return 2.0 * r1 * r2 * dim + 1.0 * r1 * r1 * r2 + 4.0 / 3.0 * r1**3
        if len(thin) == 1:
            r = thin[0]
            return 2.0 * r * dim * dim + 2.0 * r * r * dim + 4.0 / 3.0 * r**3
        return dim**3 / 3.0 + 4.0 * dim**3 + 4.0 / 3.0 * dim**3  # Cholesky, two products, eigenvalues

    parts = FID_SUBSETS if min(n_real, n_fake) >= 20 * FID_SUBSETS else 0
    fd = fit(n_real) + fit(n_fake) + trace_sqrt(n_real, n_fake)
    if parts:
        fd += (parts * trace_sqrt(n_real // parts, n_fake // parts)
               + (0 if n_real > dim and n_real // parts > dim else parts * fit(n_real // parts))
               + (0 if n_fake > dim and n_fake // parts > dim else parts * fit(n_fake // parts)))
    m = min(KID_SUBSET_SIZE, n_real, n_fake)
    per_subset = 4.0 * m * m * dim  # the rank-k update of both subsets stacked: (2m)²d
    subsets = 1 if m == n_real == n_fake else KID_SUBSETS  # subsets as large as both sets: computed once
    if device == "cpu" and subsets > RECHECKED:  # float32 products, three subsets again in float64 (the recheck)
        kid = {"float32": subsets * per_subset, "float64": RECHECKED * per_subset}
    elif device == "cpu":
        kid = {"float32": 0.0, "float64": subsets * per_subset}
    else:  # float64 batched full products
        kid = {"float32": 0.0, "float64": subsets * 1.5 * per_subset}
    knn = (n_real * n_real + n_fake * n_fake) * width + 2.0 * n_real * n_fake * width  # own sets: each pair once
    return {"float64": {"fd": fd, "kid": kid["float64"]}, "float32": {"kid": kid["float32"], "prdc": knn}}


# ------------------------------------------------------------------------------------------------ parent


def _reference_missing() -> str | None:
    import importlib.util

    for module in ("torch_fidelity", "pytest"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed here (pip install --no-deps torch-fidelity; pytest loads its code)"
    return None


def bench_feature_space(features: str, n: int, device: str, repeats: int, scratch: str, rates: dict) -> dict[str, Any]:
    evaluation = run_child(child_evaluate, n=n, features=features, device=device, scratch=scratch)
    missing = _reference_missing()
    metrics: dict[str, Any] = {}
    for metric in ("fid", "kid", "prdc"):
        ours, theirs = [], []
        for _ in range(repeats):
            arguments = {"metric": metric, "features": features, "device": device, "scratch": scratch}
            if missing is None:
                theirs.append(run_child(child_metric, impl="torch-fidelity", **arguments))
            ours.append(run_child(child_metric, impl="ours", **arguments))
        entry: dict[str, Any] = {"ours": _summary(ours)}
        if missing is None:
            entry["torch_fidelity"] = _summary(theirs)
            entry["time_ratio"] = entry["ours"]["seconds"] / entry["torch_fidelity"]["seconds"]
            entry["memory_ratio"] = entry["ours"]["peak_increase_mib"] / max(entry["torch_fidelity"]["peak_increase_mib"], 1.0)
        metrics[metric] = entry
    flops = metric_flops(n, n, evaluation["dim"], "cpu" if device == "cpu" else "cuda")
    arithmetic_s = sum(sum(f.values()) / (rates[precision] * 1e9) for precision, f in flops.items())
    ours_stage = sum(metrics[m]["ours"]["seconds"] for m in metrics)
    out = {"features": features, "dim": evaluation["dim"], "evaluation": evaluation, "metrics": metrics,
           "metric_stage": {"ours_s": ours_stage, "flops": flops, "arithmetic_s": arithmetic_s,
                            "ours_over_arithmetic": ours_stage / arithmetic_s}}
    if missing is None:
        theirs_stage = sum(metrics[m]["torch_fidelity"]["seconds"] for m in metrics)
        out["metric_stage"].update(torch_fidelity_s=theirs_stage, time_ratio=ours_stage / theirs_stage)
    else:
        out["metric_stage"]["torch_fidelity"] = f"skipped: {missing}"
    return out


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_increase_mib": statistics.median(r["peak_increase_mib"] for r in runs),
            "value": runs[0]["value"], "runs_s": [round(r["seconds"], 3) for r in runs]}


def _random_inception_weights(scratch: str) -> str:
    """Seeded random weights that keep the signal's scale through the 94 layers (He-normal convolutions,
    batch norms as the identity), so features differ between images as a trained network's do. torch's
    default initialisation shrinks it layer by layer: its features are ~1e-8 for every image and would
    time the metrics on degenerate (singular) statistics."""
    path = Path(scratch) / "inception-random.pt"
    if path.exists():  # a kept scratch folder (--scratch): the same seeded weights
        return str(path)
    import torch

    from genloupe.engine.features.inception import FIDInceptionV3

    torch.manual_seed(0)
    network = FIDInceptionV3()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(network.state_dict(), path)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples, and reference images (default 10000)")
    parser.add_argument("--features", default="pixels,inception-fid")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics-only", action="store_true", help="ours on Gaussian features of --dim (GPU targets)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--scratch", type=Path, help="keep the random weights, feature cache and features in this "
                        "folder: a rerun's features stage then reads the cache (its time is the cache's)")
    args = parser.parse_args(argv)
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    result: dict[str, Any] = {"environment": _environment(), "n": args.n, "device": device, "repeats": args.repeats}
    result["matmul_gflops"] = rates = run_child(child_matmul_rates, device=device)
    if args.metrics_only:
        ours = run_child(child_gaussian_metrics, n=args.n, dim=args.dim, device=device)
        flops = metric_flops(args.n, args.n, args.dim, "cpu" if device == "cpu" else "cuda")
        result["metrics_only"] = {"dim": args.dim, **ours, "flops": flops}
        if device.startswith("cuda"):
            result["checks"] = {f"{name} <= {limit} s": ours[name if name != "fd" else "fd_step"]["seconds"] <= limit
                                for name, limit in GPU_TARGETS_S.items()}
    else:
        kept = contextlib.nullcontext(str(args.scratch)) if args.scratch else None
        with kept or tempfile.TemporaryDirectory(prefix="genloupe-bench-scale-") as scratch:
            Path(scratch).mkdir(parents=True, exist_ok=True)
            os.environ["GENLOUPE_CACHE_DIR"] = str(Path(scratch) / "cache")  # children inherit it
            os.environ["GENLOUPE_INCEPTION_WEIGHTS"] = _random_inception_weights(scratch)
            result["feature_spaces"] = [bench_feature_space(f, args.n, device, args.repeats, scratch, rates)
                                        for f in args.features.split(",")]
        result["checks"] = {
            f"{space['features']}: metric stage no slower than torch-fidelity": space["metric_stage"].get("time_ratio", 0) <= 1.0
            for space in result["feature_spaces"] if "time_ratio" in space["metric_stage"]}
        result["checks"].update({f"{space['features']}: metric stage within 2x of the arithmetic":
                                 space["metric_stage"]["ours_over_arithmetic"] <= 2.0 for space in result["feature_spaces"]})
    result["environment"]["load_average_after"] = os.getloadavg()
    text = json.dumps(result, indent=1, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

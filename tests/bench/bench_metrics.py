"""Benchmarks of genloupe.engine.metrics against the reference implementations, in one run.

    python tests/bench/bench_metrics.py --json OUT [--repeats 3] [--quick] [--no-references]

(a) FD at d=2048 from two 10k sets: ours vs pytorch-fid's ``calculate_frechet_distance`` (scipy's sqrtm),
    the FD step from the same statistics and the whole computation from features.
(b) precision/recall/density/coverage (k=5, open balls like prdc) at 10k vs 10k, d=2048: ours vs prdc,
    wall time and peak memory; ours alone at 50k vs 50k, d=64 (prdc would need about 30 GB).
(c) only with CUDA: P/R/D/C at 50k vs 50k, d=2048, and KID (100 subsets of 1000) at 50k vs 50k.

Every call runs in its own spawned child process, which makes its seeded Gaussian features first; the
reference's and our calls alternate, so that both see the same machine load; medians over ``--repeats``.
Peak memory: the child resets the kernel's peak-RSS mark just before the call (writes 5 to
/proc/self/clear_refs) and reads VmHWM after it; the reported ``peak_increase_mib`` is that peak minus the
resident size just before the call, i.e. what the computation itself adds on top of the inputs, the
interpreter and the libraries (torch alone is ~300 MB resident, which prdc does not load). The absolute
peak is reported too. A reference that is not installed is skipped with a note (the GPU machines have
neither prdc nor pytorch-fid); our side still runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30
MIB = 1 << 20


def _importable_from_checkout() -> None:
    """Make ``genloupe.engine`` importable from this checkout where the project is not installed (the GPU
    machines get a copy of the working tree, without Qt, prdc or pytorch-fid); runs in every child too."""
    if importlib.util.find_spec("genloupe") is not None:
        return
    package = types.ModuleType("genloupe")
    package.__path__ = []
    sys.modules["genloupe"] = package
    spec = importlib.util.spec_from_file_location(
        "genloupe.engine", ROOT / "engine" / "__init__.py", submodule_search_locations=[str(ROOT / "engine")]
    )
    engine = importlib.util.module_from_spec(spec)
    sys.modules["genloupe.engine"] = engine
    spec.loader.exec_module(engine)


_importable_from_checkout()


# ----------------------------------------------------------------------------------------------- children


def _features(n: int, dim: int, seed: int, scale: float, shift: float):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    if scale != 1.0 or shift:
        x *= scale
        x += shift
    return x


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _measured(call) -> dict[str, Any]:
    """Wall time and peak resident memory of one call (see the module docstring)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        how = "VmHWM after resetting the peak mark"
    except OSError:
        how = "VmHWM over the process lifetime (peak mark could not be reset)"
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    return {
        "seconds": seconds,
        "peak_increase_mib": (peak - before) / 1024,
        "peak_rss_mib": peak / 1024,
        "memory_method": how,
        "result": result,
    }


def _prdc_values(result: Any) -> dict[str, float]:
    if isinstance(result, dict):
        return {key: float(value) for key, value in result.items()}
    pr, dc = result.precision_recall, result.density_coverage
    return {"precision": pr.precision, "recall": pr.recall, "density": dc.density, "coverage": dc.coverage}


def child_fd(impl: str, n: int, dim: int) -> dict[str, Any]:
    import numpy as np

    real, fake = _features(n, dim, 1, 1.0, 0.0), _features(n, dim, 2, 1.1, 0.05)
    if impl == "reference":
        sys.path.insert(0, str(ROOT))
        from tests.engine.test_metrics_reference import pytorch_fid

        reference = pytorch_fid().calculate_frechet_distance
        stats = _measured(lambda: [(np.mean(x, axis=0), np.cov(x, rowvar=False)) for x in (real, fake)])
        (m1, s1), (m2, s2) = stats.pop("result")
        with contextlib.redirect_stdout(io.StringIO()):
            fd = _measured(lambda: float(reference(m1, s1, m2, s2)))
            # pytorch-fid's np.mean of float32 activations accumulates in float32; the same distance on
            # float64 means is what the FD computations should agree on
            m1, m2 = (np.mean(x, axis=0, dtype=np.float64) for x in (real, fake))
            fd["result_float64_means"] = float(reference(m1, s1, m2, s2))
    else:
        from genloupe.engine.metrics import feature_statistics, frechet_distance_from_statistics

        stats = _measured(lambda: [feature_statistics(x, device="cpu") for x in (real, fake)])
        a, b = stats.pop("result")
        fd = _measured(lambda: frechet_distance_from_statistics(a, b, device="cpu"))
    return {"statistics_s": stats["seconds"], "fd_s": fd["seconds"], "value": fd["result"],
            "value_float64_means": fd.get("result_float64_means", fd["result"])}


def child_manifold(impl: str, n: int, dim: int, k: int, device: str) -> dict[str, Any]:
    real, fake = _features(n, dim, 3, 1.0, 0.0), _features(n, dim, 4, 1.05, 0.02)
    if impl == "reference":
        from prdc import compute_prdc

        def call() -> Any:
            with contextlib.redirect_stdout(io.StringIO()):
                return compute_prdc(real, fake, k)
    else:
        import torch

        from genloupe.engine.metrics import manifold_metrics

        if device == "cuda":
            real, fake = torch.from_numpy(real).cuda(), torch.from_numpy(fake).cuda()

        def call() -> Any:
            result = manifold_metrics(real, fake, k_pr=k, k_dc=k, k_nn=None, comparison="<", device=device)
            if device == "cuda":
                torch.cuda.synchronize()
            return result

        if device == "cuda":
            call()  # warm-up: CUDA context, cuBLAS handles
            torch.cuda.reset_peak_memory_stats()
    measured = _measured(call)
    measured["values"] = _prdc_values(measured.pop("result"))
    if impl == "ours" and device == "cuda":
        measured["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / MIB
    return measured


def child_kid_cuda(n: int, dim: int) -> dict[str, Any]:
    import torch

    from genloupe.engine.metrics import kid

    real = torch.from_numpy(_features(n, dim, 5, 1.0, 0.0)).cuda()
    fake = torch.from_numpy(_features(n, dim, 6, 1.05, 0.02)).cuda()
    kid(real, fake)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    result = kid(real, fake)
    torch.cuda.synchronize()
    return {"seconds": time.perf_counter() - start, "kid_mean": result.mean, "kid_std": result.std}


def _thread_settings(reference: bool) -> None:
    """Each program's BLAS thread settings as its users get them, before NumPy loads in this child: ours
    with GenLoupe's (engine/threads.py), a reference without them (this child inherits them from the
    parent, which imported the engine)."""
    if "numpy" in sys.modules:
        raise RuntimeError("NumPy was imported before the child's BLAS thread settings were made")
    from genloupe.engine.threads import BLAS_IDLE_SETTINGS  # importing the engine makes them

    if reference:
        for name, value in BLAS_IDLE_SETTINGS.items():
            if os.environ.get(name) == value:
                del os.environ[name]


def _entry(conn, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """A child's body: children taking an ``impl`` other than "ours" run a reference implementation."""
    try:
        _thread_settings(reference=kwargs.get("impl", "ours") != "ours")
        conn.send({"ok": function(**kwargs)})
    except Exception as error:  # reported in the JSON, the benchmark goes on
        conn.send({"error": f"{type(error).__name__}: {error}"})


def run_child(function: Callable[..., Any], **kwargs: Any) -> Any:
    """``function(**kwargs)`` in a fresh spawned process (a module-level function of any benchmark script):
    its result, or a RuntimeError carrying the child's one-line error."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_entry, args=(child, function, kwargs))
    process.start()
    child.close()
    try:
        message = parent.recv()
    except EOFError:
        message = {"error": "child process died (out of memory?)"}
    process.join()
    if "error" in message:
        raise RuntimeError(f"{function.__name__}({kwargs}): {message['error']}")
    return message["ok"]


# ------------------------------------------------------------------------------------------------ parent


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _available(module: str, use_references: bool) -> str | None:
    """None when the reference can run, else why not."""
    if not use_references:
        return "references disabled (--no-references)"
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    return None


def _alternate(repeats: int, reference: tuple | None, ours: tuple) -> tuple[list, list]:
    """Run reference and ours alternately, each call in a fresh child."""
    reference_runs, our_runs = [], []
    for _ in range(repeats):
        if reference is not None:
            reference_runs.append(run_child(*reference[:1], **reference[1]))
        our_runs.append(run_child(*ours[:1], **ours[1]))
    return reference_runs, our_runs


def bench_fd(sizes: dict, repeats: int, use_references: bool) -> dict[str, Any]:
    n, dim = sizes["fd"]
    skipped = _available("pytorch_fid", use_references)
    reference = None if skipped else (child_fd, {"impl": "reference", "n": n, "dim": dim})
    reference_runs, our_runs = _alternate(repeats, reference, (child_fd, {"impl": "ours", "n": n, "dim": dim}))
    out: dict[str, Any] = {
        "n": n,
        "dim": dim,
        "ours": {"fd_step_s": _median(our_runs, "fd_s"), "statistics_s": _median(our_runs, "statistics_s"),
                 "value": our_runs[0]["value"], "runs": our_runs},
    }
    if skipped:
        out["reference"] = {"skipped": skipped}
        return out
    ref = {"fd_step_s": _median(reference_runs, "fd_s"), "statistics_s": _median(reference_runs, "statistics_s"),
           "value": reference_runs[0]["value"], "value_float64_means": reference_runs[0]["value_float64_means"],
           "runs": reference_runs}
    out["reference"] = ref
    ours = out["ours"]
    out["fd_step_speedup"] = ref["fd_step_s"] / ours["fd_step_s"]
    out["from_features_speedup"] = (ref["fd_step_s"] + ref["statistics_s"]) / (ours["fd_step_s"] + ours["statistics_s"])
    out["relative_difference"] = abs(ours["value"] - ref["value_float64_means"]) / abs(ref["value_float64_means"])
    out["relative_difference_to_float32_means"] = abs(ours["value"] - ref["value"]) / abs(ref["value"])
    return out


def bench_manifold(sizes: dict, repeats: int, use_references: bool) -> dict[str, Any]:
    n, dim = sizes["prdc"]
    k = 5
    skipped = _available("prdc", use_references)
    arguments = {"n": n, "dim": dim, "k": k, "device": "cpu"}
    reference = None if skipped else (child_manifold, {"impl": "reference", **arguments})
    reference_runs, our_runs = _alternate(repeats, reference, (child_manifold, {"impl": "ours", **arguments}))

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "seconds": _median(runs, "seconds"),
            "peak_increase_mib": _median(runs, "peak_increase_mib"),
            "peak_rss_mib": _median(runs, "peak_rss_mib"),
            "memory_method": runs[0]["memory_method"],
            "values": runs[0]["values"],
            "runs": [{key: run[key] for key in ("seconds", "peak_increase_mib", "peak_rss_mib")} for run in runs],
        }

    out: dict[str, Any] = {"n": n, "dim": dim, "k": k, "comparison": "<", "ours": summary(our_runs)}
    if skipped:
        out["reference"] = {"skipped": skipped}
    else:
        out["reference"] = summary(reference_runs)
        out["time_ratio"] = out["ours"]["seconds"] / out["reference"]["seconds"]
        out["memory_ratio"] = out["ours"]["peak_increase_mib"] / out["reference"]["peak_increase_mib"]
        ours_values, reference_values = out["ours"]["values"], out["reference"]["values"]
        out["values_equal"] = all(
            ours_values[key] == reference_values[key] for key in ("precision", "recall", "coverage")
        ) and abs(ours_values["density"] - reference_values["density"]) <= 1e-12 * max(reference_values["density"], 1)

    n_large, dim_large = sizes["prdc_large"]
    large = [run_child(child_manifold, impl="ours", n=n_large, dim=dim_large, k=k, device="cpu") for _ in range(repeats)]
    out["large"] = {"n": n_large, "dim": dim_large, **summary(large)}
    return out


def bench_cuda(sizes: dict, repeats: int) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    n, dim = sizes["cuda"]
    runs = [run_child(child_manifold, impl="ours", n=n, dim=dim, k=5, device="cuda") for _ in range(repeats)]
    kid_runs = [run_child(child_kid_cuda, n=n, dim=dim) for _ in range(repeats)]
    return {
        "device": torch.cuda.get_device_name(0),
        "prdc": {"n": n, "dim": dim, "seconds": _median(runs, "seconds"), "values": runs[0]["values"],
                 "gpu_peak_mib": _median(runs, "gpu_peak_mib"), "runs": [run["seconds"] for run in runs]},
        "kid": {"n": n, "dim": dim, "subsets": 100, "subset_size": 1000, "seconds": _median(kid_runs, "seconds"),
                "mean": kid_runs[0]["kid_mean"], "runs": [run["seconds"] for run in kid_runs]},
    }


def _environment() -> dict[str, Any]:
    import numpy
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    with contextlib.suppress(ImportError):
        import threadpoolctl

        info["blas"] = [
            {key: pool.get(key) for key in ("internal_api", "architecture", "num_threads", "version")}
            for pool in threadpoolctl.threadpool_info()
        ]
    return info


def _checks(result: dict[str, Any]) -> dict[str, bool]:
    checks = {}
    fd, manifold, cuda = result.get("fd", {}), result.get("manifold", {}), result.get("cuda", {})
    if "fd_step_speedup" in fd:
        checks["a: FD step >= 5x faster than pytorch-fid"] = fd["fd_step_speedup"] >= 5
        checks["a: FD within 1e-9 relative of pytorch-fid (same float64 means)"] = fd["relative_difference"] <= 1e-9
    if "time_ratio" in manifold:
        checks["b: P/R/D/C time <= 0.6x prdc"] = manifold["time_ratio"] <= 0.6
        checks["b: P/R/D/C peak memory <= 0.5x prdc"] = manifold["memory_ratio"] <= 0.5
        checks["b: P/R/D/C values equal prdc's (density to 1e-12)"] = manifold["values_equal"]
    if "large" in manifold:
        checks["b: 50k vs 50k d=64 within 2 GiB"] = manifold["large"]["peak_rss_mib"] * MIB <= 2 * GIB
    if "prdc" in cuda:
        checks["c: P/R/D/C 50k d=2048 <= 1 s"] = cuda["prdc"]["seconds"] <= 1.0
        checks["c: KID 50k <= 0.5 s"] = cuda["kid"]["seconds"] <= 0.5
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that the benchmark runs")
    parser.add_argument("--no-references", action="store_true", help="run our side only")
    parser.add_argument("--parts", default="a,b,c", help="which of a (FD), b (P/R/D/C), c (CUDA) to run")
    args = parser.parse_args(argv)
    sizes = (
        {"fd": (1000, 128), "prdc": (1000, 128), "prdc_large": (5000, 16), "cuda": (5000, 256)}
        if args.quick
        else {"fd": (10_000, 2048), "prdc": (10_000, 2048), "prdc_large": (50_000, 64), "cuda": (50_000, 2048)}
    )
    parts = set(args.parts.split(","))
    result: dict[str, Any] = {"environment": _environment(), "repeats": args.repeats, "quick": args.quick}
    use_references = not args.no_references
    if "a" in parts:
        result["fd"] = bench_fd(sizes, args.repeats, use_references)
    if "b" in parts:
        result["manifold"] = bench_manifold(sizes, args.repeats, use_references)
    if "c" in parts:
        result["cuda"] = bench_cuda(sizes, args.repeats)
    result["environment"]["load_average_after"] = os.getloadavg()
    result["checks"] = _checks(result)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Agreement with the reference implementations, running their own code on shared random features.

- prdc (NAVER's generative-evaluation-prdc): imported as is.
- pytorch-fid's ``calculate_frechet_distance`` and torch-fidelity's KID functions: both packages import
  torchvision at package level, which cannot be installed beside the CPU build of torch used here. Their
  source files are installed without dependencies (``pip install --no-deps pytorch-fid torch-fidelity``)
  and the named functions are compiled from those files with ``ast``, so the code that runs is theirs,
  unchanged; only their module-level imports are replaced by what the functions use (numpy, scipy.linalg,
  torch-fidelity's DEFAULTS and helpers, and a no-op stand-in for tqdm's progress bar).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import linalg

from genloupe.engine.metrics import (
    density_coverage,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    kid,
    manifold_metrics,
    precision_recall,
)

# pytorch-fid passes ``disp=False`` to sqrtm, deprecated in SciPy 1.17 (and gone in 1.18)
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")


def _defines(node: ast.stmt) -> str | None:
    if isinstance(node, ast.FunctionDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def installed_functions(package: str, relative_path: str, names: list[str], namespace: dict) -> SimpleNamespace:
    """Compile the named top-level functions (and constants) of an installed package's file, without
    importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed (pip install --no-deps {package.replace('_', '-')})")
    path = Path(spec.submodule_search_locations[0]) / relative_path
    tree = ast.parse(path.read_text(), filename=str(path))
    body = [node for node in tree.body if _defines(node) in names]
    assert sorted(_defines(node) for node in body) == sorted(names), f"{path} no longer defines {names}"
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return SimpleNamespace(**{name: namespace[name] for name in names}, path=path)


def pytorch_fid() -> SimpleNamespace:
    """pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm path)."""
    return installed_functions("pytorch_fid", "fid_score.py", ["calculate_frechet_distance"], {"np": np, "linalg": linalg})


def torch_fidelity_kid() -> SimpleNamespace:
    """torch-fidelity's KID: kid_features_to_metric and the kernel/MMD functions it calls."""
    defaults: dict = {}
    probe = installed_functions("torch_fidelity", "helpers.py", ["vassert", "vprint", "get_kwarg"], defaults)
    exec(compile((probe.path.parent / "defaults.py").read_text(), str(probe.path.parent / "defaults.py"), "exec"), defaults)
    namespace = {
        "np": np,
        "torch": torch,
        "tqdm": lambda iterable, **_: iterable,
        "get_kwarg": defaults["get_kwarg"],
        "vassert": defaults["vassert"],
        "vprint": defaults["vprint"],
    }
    return installed_functions(
        "torch_fidelity", "metric_kid.py",         ["KEY_METRIC_KID_MEAN", "KEY_METRIC_KID_STD", "mmd2", "kernel_poly", "kernel_rbf", "kernel_mmd",
         "kid_features_to_metric"],
        namespace,
    )


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        return compute_prdc(real, fake, k)


def shifted_pair(n_real: int, n_fake: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n_real, dim)).astype(np.float32)
    fake = (rng.standard_normal((n_fake, dim)) * (1 + 1 / np.sqrt(dim)) + 0.3 / np.sqrt(dim)).astype(np.float32)
    return real, fake


@pytest.mark.parametrize(("dim", "k"), [(8, 3), (64, 5), (300, 3)])
def test_precision_recall_density_coverage_equal_prdc_with_open_balls(dim: int, k: int) -> None:
    real, fake = shifted_pair(500, 420, dim, seed=dim)
    expected = reference_prdc(real, fake, k)
    ours = manifold_metrics(real, fake, k_pr=k, k_dc=k, k_nn=None, comparison="<")
    pr, dc = ours.precision_recall, ours.density_coverage
    assert 0.05 < expected["precision"] < 0.95  # the case is not degenerate
    assert pr.precision == expected["precision"]
    assert pr.recall == expected["recall"]
    assert dc.density == pytest.approx(expected["density"], rel=1e-12)
    assert dc.coverage == expected["coverage"]
    alone = precision_recall(real, fake, k=k, comparison="<")  # precision from its own ball test
    assert (alone.precision, alone.recall) == (expected["precision"], expected["recall"])


def test_radii_equal_prdc_nearest_neighbour_distances() -> None:
    from prdc.prdc import compute_nearest_neighbour_distances

    real, fake = shifted_pair(300, 200, 32, seed=5)
    ours = precision_recall(real, fake, k=4)
    np.testing.assert_allclose(ours.real_radii, compute_nearest_neighbour_distances(real, 4), rtol=2e-6)
    np.testing.assert_allclose(ours.fake_radii, compute_nearest_neighbour_distances(fake, 4), rtol=2e-6)


def test_closed_balls_differ_from_prdc_only_on_the_surface() -> None:
    """With ``<=`` a generated copy of a real point on another real point's ball surface counts; with ``<`` not."""
    real, _ = shifted_pair(200, 1, 16, seed=9)
    closed = density_coverage(real, real, k=3)
    opened = density_coverage(real, real, k=3, comparison="<")
    expected = reference_prdc(real, real, 3)
    assert opened.density == pytest.approx(expected["density"], rel=1e-12)
    # each real point is its own generated copy and sits exactly on the surface of its 3 nearest neighbours' balls
    assert closed.fake_counts.sum() - opened.fake_counts.sum() == len(real)


def _gaussian_features(n: int, dim: int, rank: int, scale: float, shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((rank, dim)) / np.sqrt(rank)
    return ((rng.standard_normal((n, rank)) @ mixing) * scale + shift).astype(np.float32)


def _pytorch_fid_value(real: np.ndarray, fake: np.ndarray) -> float:
    """What pytorch-fid computes from activations: np.mean / np.cov then calculate_frechet_distance.

    Given float64 activations: np.mean of float32 ones accumulates in float32, which alone moves FD by
    ~1e-8 relative, and the comparison is about the distance computation."""
    reference = pytorch_fid()
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    with contextlib.redirect_stdout(io.StringIO()):
        return float(reference.calculate_frechet_distance(
            np.mean(real, axis=0), np.cov(real, rowvar=False), np.mean(fake, axis=0), np.cov(fake, rowvar=False)
        ))


def test_frechet_distance_matches_pytorch_fid_full_rank() -> None:
    real = _gaussian_features(3000, 64, 64, 1.0, 0.0, seed=1)
    fake = _gaussian_features(2500, 64, 64, 1.3, 0.2, seed=2)
    expected = _pytorch_fid_value(real, fake)
    assert frechet_distance(real, fake).value == pytest.approx(expected, rel=1e-9)
    stats = feature_statistics(real), feature_statistics(fake)
    assert frechet_distance_from_statistics(*stats) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("n", "rank"), [(2000, 20), (40, 64)], ids=["low-rank features", "fewer samples than dims"])
def test_frechet_distance_matches_pytorch_fid_rank_deficient(n: int, rank: int) -> None:
    real = _gaussian_features(n, 64, rank, 1.0, 0.0, seed=3)
    fake = _gaussian_features(n, 64, rank, 0.8, 0.1, seed=4)
    ours = frechet_distance(real, fake).value
    assert np.isfinite(ours)
    assert ours == pytest.approx(_pytorch_fid_value(real, fake), rel=1e-6)


def test_kid_on_whole_sets_equals_torch_fidelity_mmd() -> None:
    """One subset holding every row: the unbiased MMD² is deterministic and must match theirs exactly."""
    reference = torch_fidelity_kid()
    real, fake = shifted_pair(400, 400, 48, seed=7)
    expected = reference.kernel_mmd(real.astype(np.float64), fake.astype(np.float64))
    assert kid(real, fake, subsets=1, subset_size=400).mean == pytest.approx(expected, rel=1e-10)


def test_kid_within_subset_noise_of_torch_fidelity() -> None:
    reference = torch_fidelity_kid()
    real, fake = shifted_pair(1000, 1000, 32, seed=8)
    theirs = reference.kid_features_to_metric(
        torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=40, kid_subset_size=300, verbose=False
    )
    ours = kid(real, fake, subsets=40, subset_size=300, seed=1)
    their_mean = theirs["kernel_inception_distance_mean"]
    their_std = theirs["kernel_inception_distance_std"]
    noise = np.sqrt((ours.std**2 + their_std**2) / 40)
    assert their_mean > 8 * noise  # the distributions differ measurably
    assert abs(ours.mean - their_mean) < 4 * noise
    assert ours.std == pytest.approx(their_std, rel=0.5)

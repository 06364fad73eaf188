"""FD of sets with fewer rows than dimensions, from the rows (179 held-out images of 3x32x32 took minutes via d x d)."""

from __future__ import annotations

import numpy as np
import pytest

from genloupe.engine.metrics.frechet import _rows_are_cheaper, frechet_distance


def reference_fd(x1: np.ndarray, x2: np.ndarray) -> float:
    """Textbook FD with numpy's symmetric eigendecomposition: tr sqrt(C1^1/2 C2 C1^1/2)."""
    mu1, mu2 = x1.mean(0), x2.mean(0)
    c1, c2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    values, vectors = np.linalg.eigh(c1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root @ c2 @ root)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_the_row_form_is_chosen_only_where_it_is_cheaper():
    assert _rows_are_cheaper(179, 2000, 3072)  # a small reference of 3x32x32 pixels
    assert not _rows_are_cheaper(10_000, 10_000, 2048)  # Inception features of real-size sets


@pytest.mark.parametrize("n1, n2, dim", [(30, 50, 200), (12, 180, 400)])
def test_fd_from_rows_equals_the_covariance_form(n1, n2, dim):
    rng = np.random.default_rng(dim)
    real = rng.normal(size=(n1, dim)) @ rng.normal(size=(dim, dim)) / dim**0.5
    fake = rng.normal(0.3, 1.2, size=(n2, dim))
    assert _rows_are_cheaper(n1, n2, dim)
    result = frechet_distance(real, fake, device="cpu")
    assert result.value == pytest.approx(reference_fd(real, fake), rel=1e-6)  # the eigh reference adds sqrt(eps) noise per null direction
    with_parts = frechet_distance(real, fake, subsets=3, device="cpu")
    assert with_parts.value == result.value and with_parts.subset_values.shape == (3,)
    rng = np.random.default_rng(0)
    real_parts, fake_parts = np.array_split(rng.permutation(n1), 3), np.array_split(rng.permutation(n2), 3)
    expected = [reference_fd(real[a], fake[b]) for a, b in zip(real_parts, fake_parts)]
    assert with_parts.subset_values == pytest.approx(expected, rel=1e-6)  # the eigh reference adds sqrt(eps) noise per null direction

"""The faster routes of the metrics give the numbers of the direct ones."""

from __future__ import annotations

import numpy as np
import pytest

from genloupe.engine.metrics import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    manifold_metrics,
    nearest_real,
)


@pytest.mark.parametrize(("n_real", "n_fake"), [(40, 300), (30, 50), (300, 200)],
                         ids=["one set thin", "both thin", "both full"])
def test_frechet_from_thin_factors_equals_the_covariance_route(n_real: int, n_fake: int) -> None:
    """Sets with no more rows than dimensions use their centred rows; statistics always use covariances."""
    rng = np.random.default_rng(11)
    real = rng.standard_normal((n_real, 64)) @ rng.standard_normal((64, 64)) * 0.3
    fake = rng.standard_normal((n_fake, 64)) @ rng.standard_normal((64, 64)) * 0.25 + 0.1
    direct = frechet_distance(real, fake, device="cpu").value
    from_covariances = frechet_distance_from_statistics(feature_statistics(real, device="cpu"),
                                                        feature_statistics(fake, device="cpu"), device="cpu")
    assert direct == pytest.approx(from_covariances, rel=1e-9)


def test_nearest_other_real_from_the_real_sets_own_pass_equals_a_separate_search() -> None:
    """The k-NN pass over the real set gives each real sample's nearest other one (duplicates at distance 0)."""
    rng = np.random.default_rng(12)
    real = rng.standard_normal((700, 24)).astype(np.float32)
    real[5] = real[9]  # a duplicate: its nearest other real sample is at distance 0
    fake = rng.standard_normal((500, 24)).astype(np.float32)
    manifold = manifold_metrics(real, fake, real_nearest=True, device="cpu", memory_budget=1 << 20)
    separate = nearest_real(real, real, k=2, device="cpu").distances[:, 1]
    np.testing.assert_array_equal(manifold.real_nn_distance, separate)
    assert manifold.real_nn_distance[5] == 0.0
    assert manifold_metrics(real, fake, device="cpu").real_nn_distance is None

"""Prepared view data (computed off the GUI thread) and the subsample large scatters draw."""

from __future__ import annotations

import numpy as np

from genloupe.widgets.prepared import MAX_DRAWN, histogram_data, manifold_data, scatter_data
from genloupe.widgets.quality_scatter import QualityScatter


def test_a_large_scatter_draws_a_seeded_subsample_with_every_flagged_point_and_says_so(qtbot):
    rng = np.random.default_rng(3)
    n = 3 * MAX_DRAWN
    flagged = rng.random(n) < 0.01
    data = scatter_data(rng.standard_normal(n), rng.random(n), flagged=flagged)
    drawn_ids = np.concatenate([layer.ids[layer.drawn] for layer in data.layers])
    assert data.drawn == len(drawn_ids) == len(np.unique(drawn_ids)) <= MAX_DRAWN + flagged.sum()
    assert set(np.flatnonzero(flagged)) <= set(drawn_ids.tolist())
    again = scatter_data(rng.standard_normal(n), rng.random(n), flagged=flagged)
    assert [layer.drawn.tolist() for layer in again.layers] == [layer.drawn.tolist() for layer in data.layers]

    view = QualityScatter()
    qtbot.addWidget(view)
    view.set_prepared(data)
    assert view.point_count() == n  # every point can be picked
    assert f"drawing a random {data.drawn:,} of {n:,} points" in view.status.text()
    assert sum(len(layer.item.data) for layer in view._layers) == data.drawn
    view.set_prepared(scatter_data(np.arange(50.0), np.arange(50.0)))
    assert "drawing a random" not in view.status.text()


def test_layers_hold_one_style_each_and_cover_every_finite_point():
    rng = np.random.default_rng(4)
    realism = rng.random(500) * 2.5
    generated = rng.standard_normal((500, 2))
    generated[7] = np.nan
    data = manifold_data(rng.standard_normal((200, 2)), generated, realism=realism,
                         generated_in=rng.random(500) < 0.5, real_in=rng.random(200) < 0.5)
    rows = np.sort(np.concatenate([layer.rows for layer in data.generated.layers]))
    np.testing.assert_array_equal(rows, np.delete(np.arange(500), 7))
    assert len({(layer.category, layer.size) for layer in data.generated.layers}) == len(data.generated.layers)
    assert data.drawn == 699


def test_histogram_shares_are_per_set_percentages_on_shared_edges():
    data = histogram_data({"a": [0.0, 1.0, 1.0, np.nan], "b": [0.5, 2.0]}, bins=2)
    np.testing.assert_allclose(data.edges, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(data.heights["a"], [100 / 3, 200 / 3])
    np.testing.assert_allclose(data.heights["b"], [50.0, 50.0])

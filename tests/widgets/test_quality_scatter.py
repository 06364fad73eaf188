"""QualityScatter: Spearman's rho as shown, flags, rectangle selection, linked selection."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from genloupe.widgets.prepared import spearman
from genloupe.widgets.quality_scatter import QualityScatter

from .plot_driving import drag, settle

RNG = np.random.default_rng(1)
N = 400
BPD = np.concatenate([RNG.normal(2.2, 0.2, N // 2), RNG.normal(3.2, 0.3, N // 2)])
REALISM = np.clip(2.0 - 0.6 * BPD + RNG.normal(0, 0.2, N), 0, None)
IDS = np.arange(N) + 5000


def test_spearman_matches_scipy_with_ties_and_missing_values():
    x = np.round(RNG.normal(size=300), 1)  # many ties
    y = x ** 3 + RNG.normal(0, 0.5, 300)
    y[:7] = np.nan
    rho, n = spearman(x, y)
    expected = spearmanr(x[7:], y[7:]).statistic
    assert n == 293 and rho == pytest.approx(expected, abs=1e-12)
    assert np.isnan(spearman(np.ones(10), np.arange(10))[0])
    assert np.isnan(spearman([1.0, 2.0], [2.0, 1.0])[0])


@pytest.fixture
def view(qtbot):
    v = QualityScatter()
    qtbot.addWidget(v)
    v.resize(640, 420)
    return v


def test_title_shows_the_rank_correlation(view):
    view.set_data(BPD, REALISM, IDS, quality_label="realism")
    expected = spearmanr(BPD, REALISM).statistic
    assert expected < -0.5
    assert view.rho == pytest.approx(expected)
    title = view.plot.getPlotItem().titleLabel.text
    assert f"= −{abs(expected):.3f}" in title and "n = 400" in title
    view.set_data(BPD, -REALISM, IDS, quality_label="nearest-real distance", quality_units="feature units")
    assert view.rho == pytest.approx(-expected)
    assert "nearest-real distance" in view.correlation_text()
    assert view.plot.getAxis("left").labelText == "nearest-real distance (feature units)"


def test_points_without_a_likelihood_are_neither_drawn_nor_counted(view):
    bpd = BPD.copy()
    bpd[:10] = np.nan
    view.set_data(bpd, REALISM, IDS)
    assert view.n == N - 10 and view.point_count() == N - 10
    assert not np.isin(IDS[:10], view.ids_in_rect(-1e9, -1e9, 1e9, 1e9)).any()


def test_flagged_samples_are_their_own_category(view):
    flagged = np.zeros(N, bool)
    flagged[[3, 30, 300]] = True
    view.set_data(BPD, REALISM, IDS, flagged=flagged)
    assert sorted(len(layer.xy) for layer in view._layers) == [3, N - 3]
    assert [label.text for _, label in view._legend.items] == ["samples", "flagged"]
    view.set_data(BPD, REALISM, IDS, keep_view=True)
    assert [label.text for _, label in view._legend.items] == ["samples"]


def test_rectangle_selects_and_linked_selection_is_quiet(view, qtbot):
    view.set_data(BPD, REALISM, IDS)
    settle(view)
    (x_min, _), (_, y_max) = view.plot.getPlotItem().getViewBox().viewRange()
    px, py = view.plot.getPlotItem().getViewBox().viewPixelSize()
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        drag(qtbot, view.plot, (x_min + 3 * px, 1.0), (2.3, y_max - 3 * py))  # likely samples that look real
    got = blocker.args[0]
    surely = (BPD <= 2.3 - 2 * px) & (REALISM >= 1.0 + 2 * py)
    maybe = (BPD <= 2.3 + 2 * px) & (REALISM >= 1.0 - 2 * py)
    assert surely.sum() > 10
    assert set(IDS[surely]) <= set(got) <= set(IDS[maybe])
    with qtbot.assertNotEmitted(view.selectionChanged):
        view.set_selection(IDS[:5])
        view.clear_selection()
        view.set_selection(IDS[-2:])
    np.testing.assert_array_equal(view.selection(), IDS[-2:])
    assert view.status.text().startswith("selected 2 / 400")

"""HistogramView on real widgets: brushing, counts, linked selection, shared bins."""

import numpy as np
import pytest
from PySide6 import QtCore
from genloupe.widgets.histogram import HistogramView

from .plot_driving import double_click, drag, settle

REAL = np.array([2.0, 2.2, 2.4, 2.6, 2.8, 3.0])
SAMPLES = np.array([1.5, 2.1, 2.3, 3.5, 3.6, 3.7, 3.8, np.nan])  # one sample without a likelihood
REAL_IDS = np.arange(100, 106)
SAMPLE_IDS = np.arange(8)


@pytest.fixture
def view(qtbot):
    v = HistogramView()
    qtbot.addWidget(v)
    v.set_sets({"held-out real": REAL, "samples": SAMPLES}, ids={"held-out real": REAL_IDS, "samples": SAMPLE_IDS},
               convention="bits/dim, 17 levels, exact", bins=10)
    v.resize(640, 400)
    settle(v)
    return v


def test_sets_share_bin_edges_and_each_curve_is_a_share_of_its_set(view):
    edges = view.edges()
    assert edges[0] == pytest.approx(1.5) and edges[-1] == pytest.approx(3.8) and len(edges) == 11
    for name, expected_n in (("held-out real", 6), ("samples", 7)):
        x, heights = view.curves[name].getData()
        np.testing.assert_allclose(x, edges)
        assert heights.sum() == pytest.approx(100.0)
        counts = heights * expected_n / 100.0
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole samples per bin
    assert view.plot.getPlotItem().titleLabel.text == "bits/dim, 17 levels, exact"


def test_region_change_emits_range_and_shows_k_of_n(view, qtbot):
    with qtbot.waitSignal(view.rangeSelected, timeout=1000) as blocker:
        view.region.setRegion((2.15, 2.65))  # what a drag of the region's edges ends with
    assert blocker.args == pytest.approx([2.15, 2.65])
    assert view.brushed_range() == pytest.approx((2.15, 2.65))
    text = view.count_label.text()
    assert "held-out real 3 / 6" in text  # 2.2, 2.4, 2.6
    assert "samples 1 / 7" in text  # 2.3; the NaN sample is not counted
    assert view.region.isVisible()


def test_left_drag_on_the_plot_brushes_a_range(view, qtbot):
    with qtbot.waitSignal(view.rangeSelected, timeout=1000) as blocker:
        drag(qtbot, view.plot, (2.1, 1.0), (3.1, 1.0))
    pixel = view.plot.getPlotItem().getViewBox().viewPixelSize()[0]
    assert blocker.args == pytest.approx([2.1, 3.1], abs=1.5 * pixel)
    assert "held-out real 5 / 6" in view.count_label.text()


def test_pushed_range_and_selection_are_not_emitted(view, qtbot):
    with qtbot.assertNotEmitted(view.rangeSelected), qtbot.assertNotEmitted(view.rangeCleared):
        view.set_range(3.4, 3.9)
        view.set_selection([3, 4, 105])  # two samples and one real image
        view.clear_range()
        view.set_range(3.4, 3.9)
    assert "samples 4 / 7" in view.count_label.text()
    assert "selected 3 / 14" in view.count_label.text()


def test_selection_curve_weighs_each_sample_as_its_own_set(view):
    view.set_selection([0, 1, 100])  # samples 1.5, 2.1 and real 2.0
    x, heights = view.selected_curve.getData()
    edges = view.edges()
    assert x[0] == pytest.approx(edges[0])  # drawn over the occupied bins only
    # sample 1.5 -> bin 0; real 2.0 (bin 2) and sample 2.1 (bin 2)
    assert heights[0] == pytest.approx(100 / 7)
    assert heights[2] == pytest.approx(100 / 7 + 100 / 6)
    assert heights.sum() == pytest.approx(2 * 100 / 7 + 100 / 6)
    view.clear_selection()
    assert len(view.selected_curve.getData()[0] or []) == 0
    assert "selected" not in view.count_label.text()


def test_double_click_clears_the_brush(view, qtbot):
    view.set_range(2.0, 2.5)
    with qtbot.waitSignal(view.rangeCleared, timeout=1000):
        double_click(qtbot, view.plot, 3.3, 5.0)
    assert view.brushed_range() is None
    assert "/" not in view.count_label.text()
    view.set_range(2.0, 2.5)
    with qtbot.waitSignal(view.rangeCleared, timeout=1000):
        qtbot.keyClick(view.plot, QtCore.Qt.Key.Key_Escape)
    assert view.brushed_range() is None


def test_set_without_any_likelihood_draws_no_curve(qtbot):
    v = HistogramView()
    qtbot.addWidget(v)
    v.set_sets({"real": REAL, "gan": np.full(4, np.nan)})
    assert list(v.curves) == ["real"]
    v.set_range(0, 10)
    assert "gan 0 / 0" in v.count_label.text()

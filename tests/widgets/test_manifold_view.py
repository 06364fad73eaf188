"""ManifoldView on real widgets: click-nearest, rectangle selection, linked selection, k-NN circle."""

import numpy as np
import pytest
from PySide6 import QtCore

from genloupe.widgets.manifold_view import ManifoldView, knn_radius_2d
from genloupe.widgets.prepared import SIZES_PX, realism_sizes

from .plot_driving import click, drag, settle

RNG = np.random.default_rng(0)
REAL_XY = RNG.normal(0.0, 1.0, (300, 2))
GEN_XY = np.concatenate([RNG.normal(0.0, 1.0, (200, 2)), RNG.normal([5.0, 3.0], 0.5, (100, 2))])
GEN_IDS = np.arange(1000, 1300)
GEN_IN = np.r_[np.ones(200, bool), np.zeros(100, bool)]
REAL_IN = np.linalg.norm(REAL_XY, axis=1) < 2.0


@pytest.fixture
def view(qtbot):
    v = ManifoldView()
    qtbot.addWidget(v)
    v.set_data(REAL_XY, GEN_XY, generated_ids=GEN_IDS, real_in=REAL_IN, generated_in=GEN_IN,
               realism=np.r_[np.full(200, 1.5), np.full(100, 0.2)], axis_labels=("PC 1", "PC 2"))
    v.resize(700, 500)
    return v


def test_click_selects_the_nearest_generated_point(view, qtbot):
    settle(view)
    others = np.concatenate([REAL_XY, GEN_XY])
    gaps = np.sort(np.linalg.norm(GEN_XY[:, None] - others[None], axis=2), axis=1)[:, 1]
    target = int(np.argmax(gaps))  # the most isolated sample: a hand's few pixels off still mean it
    px, py = view.plot.getPlotItem().getViewBox().viewPixelSize()
    assert gaps[target] > 8 * max(px, py)
    x, y = GEN_XY[target]
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        click(qtbot, view.plot, x + 3 * px, y - 2 * py)
    np.testing.assert_array_equal(blocker.args[0], [GEN_IDS[target]])
    assert "selected 1 / 300" in view.status.text()
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        click(qtbot, view.plot, *GEN_XY[5])  # right on a point, too
    np.testing.assert_array_equal(blocker.args[0], [GEN_IDS[5]])
    (x0, _), (_, y1) = view.plot.getPlotItem().getViewBox().viewRange()
    empty = (x0 + 10 * px, y1 - 10 * py)  # the top-left corner
    assert view.nearest_id(*empty) is None
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        click(qtbot, view.plot, *empty)  # empty space clears
    assert blocker.args[0].size == 0


def test_ctrl_click_toggles_and_real_points_are_not_selectable_without_ids(view, qtbot):
    settle(view)
    view.set_selection([1250])
    a, b = GEN_XY[250], GEN_XY[260]
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        click(qtbot, view.plot, *b, modifier=QtCore.Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(blocker.args[0], [1250, 1260])
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        click(qtbot, view.plot, *a, modifier=QtCore.Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(blocker.args[0], [1260])
    real_only = REAL_XY[np.argmax(np.linalg.norm(REAL_XY, axis=1))]  # an outlying real point
    assert view.nearest_id(*real_only, max_px=3) is None


def test_rectangle_drag_selects_the_points_inside(view, qtbot):
    settle(view)
    x0, y0, x1, y1 = 3.5, 1.5, 5.2, 3.4
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:
        drag(qtbot, view.plot, (x0, y0), (x1, y1))
    # the drag snaps to whole pixels: points within 2 px of the border may go either way
    px, py = view.plot.getPlotItem().getViewBox().viewPixelSize()

    def inside(mx, my):
        return ((GEN_XY[:, 0] >= x0 + mx) & (GEN_XY[:, 0] <= x1 - mx)
                & (GEN_XY[:, 1] >= y0 + my) & (GEN_XY[:, 1] <= y1 - my))
    got = blocker.args[0]
    assert inside(2 * px, 2 * py).sum() > 20
    assert set(GEN_IDS[inside(2 * px, 2 * py)]) <= set(got) <= set(GEN_IDS[inside(-2 * px, -2 * py)])
    assert set(got) <= set(GEN_IDS[200:])  # only the blob's points, never a real one
    with qtbot.waitSignal(view.selectionChanged, timeout=1000) as blocker:  # Shift adds
        drag(qtbot, view.plot, (-0.3, -0.3), (0.3, 0.3), QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert set(got) < set(blocker.args[0])


def test_ids_in_rect_matches_numpy(view):
    inside = (GEN_XY[:, 0] >= -1) & (GEN_XY[:, 0] <= 0.5) & (GEN_XY[:, 1] >= -0.5) & (GEN_XY[:, 1] <= 2)
    np.testing.assert_array_equal(view.ids_in_rect(0.5, 2, -1, -0.5), GEN_IDS[inside])


def test_linked_selection_is_not_emitted_and_draws_the_overlay(view, qtbot):
    with qtbot.assertNotEmitted(view.selectionChanged):
        view.set_selection([1000, 1001, 1002, 99999])  # an id this view does not show is kept
        assert "selected 3 / 300" in view.status.text()
        assert len(view._overlay.data) == 3
        view.clear_selection()
    assert view.selection().size == 0 and len(view._overlay.data) == 0


def test_single_selection_draws_its_knn_radius(view):
    view.set_selection([1000])
    expected = knn_radius_2d(GEN_XY, 0, 3)
    assert view.radius_shown == pytest.approx(expected)
    rect = view._circle.rect()
    assert rect.center().x() == pytest.approx(GEN_XY[0, 0]) and rect.width() == pytest.approx(2 * expected)
    view.set_selection([1000, 1001])
    assert np.isnan(view.radius_shown) and not view._circle.isVisible()


def test_given_radii_and_selectable_real_points(qtbot):
    v = ManifoldView()
    qtbot.addWidget(v)
    v.set_data(REAL_XY, GEN_XY, real_ids=np.arange(300), generated_ids=GEN_IDS,
               real_radii=np.full(300, 0.7), generated_radii=np.full(300, 0.4))
    v.set_selection([5])
    assert v.radius_shown == pytest.approx(0.7)
    v.resize(600, 500)
    settle(v)
    assert v.nearest_id(*REAL_XY[np.argmax(np.linalg.norm(REAL_XY, axis=1))], max_px=1) is not None


def test_legend_names_each_category_with_its_count(view):
    labels = [label.text for _, label in view._legend.items]
    assert labels == [f"held-out real: inside a samples ball (any size): {REAL_IN.sum()}",
                      f"held-out real: outside every samples ball: {(~REAL_IN).sum()}",
                      "samples: inside a held-out real ball (any size): 200",
                      "samples: outside every held-out real ball: 100"]


def test_realism_sizes_are_few_and_monotone():
    r = np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0, np.nan])
    sizes = realism_sizes(r)
    assert set(sizes) <= set(SIZES_PX)
    assert np.all(np.diff(sizes[1:7]) >= 0) and sizes[0] == SIZES_PX[0] and sizes[6] == SIZES_PX[-1]
    assert sizes[-1] == SIZES_PX[0]

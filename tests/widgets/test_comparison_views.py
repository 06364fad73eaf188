"""The comparison and trajectory views with plain values, driven by real clicks."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from genloupe.widgets.comparison_view import DISCORDANT, Column, ComparisonView, ModelRow, RankingPair
from genloupe.widgets.trajectory_view import Series, TrajectoryView

from .plot_driving import click, settle

LEFT = QtCore.Qt.MouseButton.LeftButton
COLUMNS = [Column("bpd", "bits/dim", "lower"), Column("fid", "FID", "lower"), Column("precision", "precision", "higher")]


def rows() -> list[ModelRow]:
    def model(name, bpd, fid, precision, kind="exact"):
        return ModelRow(name, {"bpd": (bpd, (bpd - 0.05, bpd + 0.05), "179 images"),
                               "fid": (fid, (fid - 10, fid + 10), "100 samples vs 179 real"),
                               "precision": (precision, (precision - 0.05, precision + 0.05), "100 samples vs 179 real")},
                        likelihood_kind=kind)
    return [model("flow", 2.0, 60.0, 0.70, "dequantized K=8, bound"), model("mixture", 2.5, 50.0, 0.85),
            model("gaussian", 3.4, 300.0, 0.77)]


RANKINGS = {"fid": RankingPair([0, 1, 2], [1, 0, 2], 1 / 3, [(0, 1)]),
            "precision": RankingPair([0, 1, 2], [1, 2, 0], -1 / 3, [(0, 1), (0, 2)])}


@pytest.fixture
def view(qtbot):
    widget = ComparisonView()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.set_data(rows(), COLUMNS, RANKINGS, "bits/dim: 17 levels · D=64 · exact")
    settle(widget)
    return widget


def test_table_holds_every_metric_with_its_interval_and_sample_sizes(view):
    table = view.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["model", "epoch", "bits/dim ↓", "FID ↓", "precision ↑", "bits/dim is", "n (bits/dim)", "n (quality)"]
    assert table.rowCount() == 3
    assert table.item(0, 2).text() == "2 [1.95, 2.05]" and table.item(2, 3).text() == "300 [290, 310]"
    assert table.item(0, 5).text() == "dequantized K=8, bound" and table.item(1, 5).text() == "exact"
    assert table.item(0, 6).text() == "179 images" and table.item(0, 7).text() == "100 samples vs 179 real"


def test_rankings_follow_the_chosen_metric_with_tau_and_discordant_pairs(view):
    assert view.quality_metric() == "precision"  # the default: the metric the noise trap fools least
    assert "τ = -0.3333" in view.tau_label.text()
    names = [[view.ranking_table.item(r, c).text() for c in range(2)] for r in range(3)]
    assert names == [["1. flow", "1. mixture"], ["2. mixture", "2. gaussian"], ["3. gaussian", "3. flow"]]
    assert view.discordant_rows() == {0, 1, 2} and view.pair_list.count() == 2
    assert view.ranking_table.item(0, 0).background().color() == DISCORDANT
    view.set_metric("fid")
    assert "τ = 0.3333" in view.tau_label.text() and view.pair_list.count() == 1
    assert view.discordant_rows() == {0, 1}
    assert view.ranking_table.item(2, 0).background().color() != DISCORDANT  # gaussian is last in both


def test_picking_a_discordant_pair_marks_its_two_models(view):
    view.pair_list.setCurrentRow(1)  # flow ≻ gaussian
    bold = {view.ranking_table.item(r, c).text() for r in range(3) for c in range(2) if view.ranking_table.item(r, c).font().bold()}
    assert bold == {"1. flow", "3. flow", "3. gaussian", "2. gaussian"}


def test_clicking_a_row_a_point_or_a_ranking_opens_that_model(view, qtbot):
    table = view.table
    with qtbot.waitSignal(view.modelActivated) as signal:
        qtbot.mouseClick(table.viewport(), LEFT, pos=table.visualItemRect(table.item(1, 0)).center())
    assert signal.args == [1]
    with qtbot.waitSignal(view.modelActivated) as signal:
        click(qtbot, view.plot, 3.4, 0.77)  # gaussian's point
    assert signal.args == [2]
    ranking = view.ranking_table
    with qtbot.waitSignal(view.modelActivated) as signal:
        qtbot.mouseClick(ranking.viewport(), LEFT, pos=ranking.visualItemRect(ranking.item(0, 1)).center())
    assert signal.args == [1]  # mixture, first by precision


def test_models_without_a_metric_stay_in_the_table_but_not_in_the_plot(qtbot):
    view = ComparisonView()
    qtbot.addWidget(view)
    gan = ModelRow("gan", {"bpd": (None, None, ""), "precision": (0.6, None, "100 samples vs 179 real")})
    view.set_data([*rows(), gan], COLUMNS, RANKINGS)
    assert view.table.rowCount() == 4 and view.table.item(3, 2).text() == "—"
    assert len(view._scatter.data) == 3


def test_trajectory_links_its_axes_shades_parting_epochs_and_opens_checkpoints(qtbot):
    view = TrajectoryView()
    qtbot.addWidget(view)
    view.resize(800, 700)
    epochs = np.array([2, 4, 6])
    held_out = Series("bits/dim, held-out", np.array([3.0, 2.8, 2.7]), np.array([[2.9, 3.1], [2.7, 2.9], [2.6, 2.8]]), "lower")
    train = Series("bits/dim, train split", np.array([2.9, 2.6, 2.3]), None, "lower")
    precision = Series("precision", np.array([0.7, 0.75, 0.6]), np.array([[0.6, 0.8]] * 3), "higher")
    view.set_data(epochs, [7, 5, 9], [held_out, train], [precision], "epoch", parting=[6])
    settle(view)
    assert len(view.plots) == 2 and view.plots[1].getViewBox().linkedView(0) is view.plots[0].getViewBox()
    assert "epoch 6" in view.status.text()
    view.plots[0].setXRange(3, 5)
    assert view.plots[1].getViewBox().viewRange()[0] == pytest.approx(view.plots[0].getViewBox().viewRange()[0], abs=0.2)
    view.plots[0].autoRange()
    with qtbot.waitSignal(view.checkpointActivated) as signal:
        qtbot.mouseClick(view.plots[1].viewport(), LEFT, pos=view.point_position(1, 2))
    assert signal.args == [9]  # the member index given for epoch 6

"""MetricsPanel: values with interval, sample size and convention; stale marks."""

import math

import pytest

from genloupe.widgets.metrics_panel import MetricsPanel, format_interval, format_number

METRICS = [
    {"name": "FID", "value": 12.345678, "interval": (11.2, 13.61), "n": "360 vs 2,000",
     "convention": "digits-cnn features, d=64", "better": "lower"},
    {"name": "precision", "value": 0.7131, "n": 2000, "convention": "k=3 NN manifold", "better": "higher",
     "note": "share of samples inside the real manifold"},
    {"name": "bits/dim", "value": None, "convention": "no likelihood (GAN head)"},
]


@pytest.fixture
def panel(qtbot):
    p = MetricsPanel()
    qtbot.addWidget(p)
    p.set_metrics(METRICS)
    return p


def test_rows_show_value_interval_n_and_convention(panel):
    assert panel.metric_names() == ["FID", "precision", "bits/dim"]
    assert panel.cell_text("FID", "metric") == "FID ↓"
    assert panel.cell_text("FID", "value") == "12.35"
    assert panel.cell_text("FID", "interval") == "[11.2, 13.61]"
    assert panel.cell_text("FID", "n") == "360 vs 2,000"
    assert panel.cell_text("precision", "n") == "2,000"
    assert panel.cell_text("precision", "convention") == "k=3 NN manifold"
    assert panel.cell_text("bits/dim", "value") == "—"
    assert panel.item(1, 1).toolTip() == "share of samples inside the real manifold"


def test_stale_marks_appear_and_fresh_values_clear_them(panel):
    panel.mark_stale(["FID", "not shown"])
    assert panel.is_stale("FID") and not panel.is_stale("precision")
    assert "stale" in panel.cell_text("FID", "status") and panel.cell_text("precision", "status") == ""
    fid_row = panel.metric_names().index("FID")
    assert panel.item(fid_row, 1).font().italic()
    stale_colour = panel.item(fid_row, 1).foreground().color()
    assert stale_colour != panel.item(1, 1).foreground().color()  # greyed against a fresh row
    panel.mark_stale()
    assert all(panel.is_stale(n) for n in panel.metric_names())
    panel.merge_metrics([{"name": "FID", "value": 9.5}, {"name": "recall", "value": 0.4}])
    assert not panel.is_stale("FID") and panel.is_stale("precision")
    assert panel.cell_text("FID", "value") == "9.5" and not panel.item(fid_row, 1).font().italic()
    assert panel.metric_names() == ["FID", "precision", "bits/dim", "recall"]
    panel.set_metrics(METRICS[:1])
    assert panel.rowCount() == 1 and not panel.is_stale("FID")


def test_number_formatting():
    assert format_number(1234567.891) == "1,234,567.9"
    assert format_number(0.000123456) == "0.0001235"
    assert format_number(1797) == "1,797"
    assert format_number(math.nan) == "—" and format_number(math.inf) == "∞"
    assert format_interval(None) == "" and format_interval((0.5, 0.75)) == "[0.5, 0.75]"

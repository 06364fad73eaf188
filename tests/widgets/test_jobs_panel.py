"""JobsPanel: progress, cancel, errors, finished state, restarts."""

import pytest
from PySide6 import QtCore

from genloupe.widgets.jobs_panel import JobsPanel


@pytest.fixture
def panel(qtbot):
    p = JobsPanel()
    qtbot.addWidget(p)
    p.show()
    return p


def test_progress_and_stage_follow_updates(panel):
    panel.start_job("likelihood", "Likelihood")
    row = panel.row("likelihood")
    assert row.progress.maximum() == 0  # busy until the size is known
    panel.update_job("likelihood", 3, 10, "batch 3 / 10")
    assert (row.progress.value(), row.progress.maximum()) == (3, 10)
    assert row.stage.text() == "batch 3 / 10" and panel.state("likelihood") == "running"
    panel.finish_job("likelihood")
    assert panel.state("likelihood") == "done" and row.progress.value() == row.progress.maximum()
    assert row.stage.text().startswith("done (") and not row.cancel.isEnabled()
    panel.update_job("likelihood", 4, 10, "late")  # a stale update after the end changes nothing
    assert row.stage.text().startswith("done (")


def test_cancel_button_emits_the_kind(panel, qtbot):
    panel.start_job("features")
    panel.start_job("metrics")
    with qtbot.waitSignal(panel.cancelRequested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.row("metrics").cancel, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == ["metrics"]
    assert not panel.row("metrics").cancel.isEnabled() and panel.row("features").cancel.isEnabled()
    panel.cancelled_job("metrics")
    assert panel.state("metrics") == "cancelled"


def test_error_text_stays_visible_and_a_restart_clears_it(panel):
    panel.start_job("metrics", "Metrics")
    panel.update_job("metrics", 10, 10, "sampling")  # a stage that completed before the failure
    panel.fail_job("metrics", "FeatureError: /data/inception.pt: not a TorchScript archive")
    row = panel.row("metrics")
    assert row.progress.value() == 0  # a failed job never reads 100 %
    assert panel.state("metrics") == "failed" and not row.error.isHidden()
    assert "not a TorchScript archive" in row.error.text()
    panel.start_job("metrics", "Metrics again")
    assert panel.kinds() == ["metrics"] and panel.state("metrics") == "running"
    assert row.error.isHidden() and row.cancel.isEnabled() and row.title.text() == "Metrics again"
    panel.remove_job("metrics")
    assert panel.kinds() == []

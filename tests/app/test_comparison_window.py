"""The comparison in the real window: models added in background jobs (one per model, each with progress and
cancel), a row clicked opens that model's per-sample views, flags stay with their model, drops and the sweep."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from genloupe.app.main_window import build_window
from genloupe.engine.comparison import Comparison
from genloupe.engine.session import Session
from genloupe.widgets.jobs_panel import CANCELLED, DONE, FAILED

DEMO = files("genloupe.assets") / "demo"
N = 60
JOB_TIMEOUT_MS = 120_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLOUPE_CONFIG_DIR", str(tmp_path / "config"))
    window = build_window()
    qtbot.addWidget(window)
    window.controller.n_samples = N
    window.controller.device = "cpu"
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    return window


def members_done(qtbot, presenter, count: int) -> None:
    qtbot.waitUntil(lambda: not presenter.pending and presenter.data is not None and len(presenter.data.members) == count,
                    timeout=JOB_TIMEOUT_MS)


def test_add_models_click_a_row_and_see_its_samples_with_its_own_flags(window, qtbot):
    presenter, panel = window.comparison, window.jobs_panel
    assert presenter.add_models([str(DEMO / "flow.pt"), str(DEMO / "gaussian.pt")]) == 2
    assert {"compare flow.pt", "compare gaussian.pt"} <= set(panel.kinds())  # one job per model, neither cancels the other
    members_done(qtbot, presenter, 2)
    assert panel.state("compare flow.pt") == DONE and panel.state("compare gaussian.pt") == DONE
    assert presenter.docks["comparison"].isVisible() and presenter.view.table.rowCount() == 2
    path = presenter.comparison.path
    before = [m.session for m in presenter.comparison.members()]

    assert presenter.add_models([str(DEMO / "mixture.pt"), str(DEMO / "flow.pt"), str(DEMO / "mixture.pt")]) == 1
    members_done(qtbot, presenter, 3)
    assert [m.session for m in presenter.comparison.members()][:2] == before
    assert presenter.view.ranking_table.rowCount() == 3 and "τ" in presenter.view.tau_label.text()

    table, members = presenter.view.table, presenter.data.members
    row = [m.name for m in members].index("gaussian.pt")
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=10_000):
        qtbot.mouseClick(table.viewport(), LEFT, pos=table.visualItemRect(table.item(row, 0)).center())
    assert window.controller.session.path == members[row].session
    assert window.grid.model.n == N and window.windowTitle().startswith("GenLoupe — diagonal Gaussian")
    window.controller.flag("bad", True, np.array([0, 1]))

    other = [m.name for m in members].index("flow.pt")
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=10_000):
        qtbot.mouseClick(table.viewport(), LEFT, pos=table.visualItemRect(table.item(other, 0)).center())
    assert window.controller.session.path == members[other].session and window.controller.flag_sets() == {}
    with Session.open(members[row].session, read_only=True) as session:
        assert session.flag_counts("sample") == {("bad", "confirmed"): 2}  # the flags stayed with the Gaussian
    with Comparison.open(path, read_only=True) as stored:
        assert [m.name for m in stored.members()] == [m.name for m in members]


def test_a_cancelled_or_broken_model_is_not_added_and_the_others_finish(window, qtbot, tmp_path):
    presenter, panel = window.comparison, window.jobs_panel
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a checkpoint")
    presenter.add_models([str(DEMO / "autoregressive.pt"), str(DEMO / "mixture.pt"), str(broken)])
    window.controller.cancel("compare mixture.pt")
    qtbot.waitUntil(lambda: not presenter.pending, timeout=JOB_TIMEOUT_MS)
    assert panel.state("compare mixture.pt") == CANCELLED and panel.state("compare broken.pt") == FAILED
    assert window.error_box.isVisible() and "broken.pt" in window.error_box.text()
    assert [m.name for m in presenter.comparison.members()] == ["autoregressive.pt"]
    path = presenter.comparison.path
    assert presenter.new_comparison().path != path  # within the same second too: a new file, never the old one
    window.open_path(str(path))  # File ▸ Open or `genloupe open` on a comparison file
    assert presenter.comparison.path == path and presenter.view.table.rowCount() == 1


def test_dropping_several_files_adds_them_and_a_folder_draws_a_trajectory(window, qtbot, tmp_path):
    presenter = window.comparison
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(DEMO / name)) for name in ("gaussian.pt", "autoregressive.pt")])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    members_done(qtbot, presenter, 2)
    assert window.controller.session is None  # the drop went to the comparison, not to the single-model views

    folder = tmp_path / "run"
    folder.mkdir()
    for step, name in ((300, "gaussian.pt"), (100, "mixture.pt"), (200, "autoregressive.pt")):
        (folder / f"ckpt_step{step}.pt").write_bytes((DEMO / name).read_bytes())
    assert presenter.handle_drop([str(folder)])
    members_done(qtbot, presenter, 3)
    assert presenter.docks["trajectory"].isVisible()
    trajectory = presenter.trajectory
    assert trajectory.epochs.tolist() == [100, 200, 300] and len(trajectory.plots) == 3
    assert "step (from file names)" in presenter.data.trajectory.unit
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=10_000):
        qtbot.mouseClick(trajectory.plots[0].viewport(), LEFT, pos=trajectory.point_position(0, 0))
    assert window.controller.session.path.name.startswith("ckpt_step100")


def test_the_noise_sweep_demo_opens_in_one_step(window, qtbot):
    presenter = window.comparison
    assert presenter.sweep_demo() == 4
    members_done(qtbot, presenter, 4)
    assert [m.noise_weight for m in presenter.data.members] == [0.0, 0.5, 0.9, 0.99]
    rows = presenter.data.sweep
    assert [row.noise_weight for row in rows] == [0.5, 0.9, 0.99]
    assert all(row.lost_nats <= row.bound_nats + 1e-4 for row in rows)
    assert rows[-1].precision < presenter.data.members[0].value("precision")

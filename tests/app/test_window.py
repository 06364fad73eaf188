"""The real window, driven like a person drives it: real mouse drags and clicks, real keys, real jobs.

Every test builds the window with build_window() on a fresh config folder. The demo is evaluated
once per module into a session file; tests that only need an evaluated session open a copy of it.
"""

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from genloupe.app.demo import DEMO_MODELS, demo_model_path
from genloupe.app.main_window import build_window
from genloupe.app.settings import sessions_dir
from genloupe.engine.session import Session
from genloupe.widgets.jobs_panel import CANCELLED, DONE, FAILED
from genloupe.widgets.theme import viewport_point

from ..widgets.plot_driving import drag, settle

DEMO_NAME = next(iter(DEMO_MODELS))  # what `genloupe` opens with no arguments
DEMO = demo_model_path(DEMO_NAME)
N_SAMPLES = 300
EVALUATION_TIMEOUT_MS = 120_000
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


def wait_for_session(controller, timeout_ms: int = EVALUATION_TIMEOUT_MS) -> dict:
    """Run the event loop until the controller loads a session or fails (for module fixtures, which have no qtbot)."""
    outcome: dict = {}
    loop = QEventLoop()
    controller.sessionLoaded.connect(lambda view: (outcome.update(view=view), loop.quit()))
    controller.failed.connect(lambda message: (outcome.update(error=message), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return outcome


@pytest.fixture(scope="module")
def demo_session(qapp, tmp_path_factory) -> Path:
    """The demo evaluated once by a real window: the session file it wrote."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENLOUPE_CONFIG_DIR", str(tmp_path_factory.mktemp("demo-config")))
        window = build_window()
        window.controller.n_samples = N_SAMPLES
        window.controller.open_model(DEMO)
        outcome = wait_for_session(window.controller)
        assert "view" in outcome, outcome.get("error", "the demo evaluation timed out")
        path = window.controller.session.path
        window.close()
        window.deleteLater()
    return path


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch, tmp_path) -> Path:
    """Settings, remembered layout and autosaved sessions of each test in its own folder."""
    folder = tmp_path / "config"
    monkeypatch.setenv("GENLOUPE_CONFIG_DIR", str(folder))
    return folder


def shown_window(qtbot):
    window = build_window()
    qtbot.addWidget(window)  # closed (layout saved, jobs stopped, session closed) after the test
    window.controller.n_samples = N_SAMPLES
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot):
    return shown_window(qtbot)


@pytest.fixture
def opened(window, demo_session, tmp_path, qtbot):
    """The window on a private copy of the demo session (flags written by one test stay in its copy)."""
    copy = tmp_path / "demo.genloupe"
    shutil.copyfile(demo_session, copy)
    window.controller.open_session(copy)
    assert window.controller.session is not None and window.controller.session.path == copy
    plots_drawn(qtbot, window)
    settle(window)
    return SimpleNamespace(window=window, path=copy, columns=window.controller.view.sample_columns)


def plots_drawn(qtbot, window, n: int = N_SAMPLES) -> None:
    """The window draws its plots one per turn of the event loop after a session loads: wait for the last."""
    qtbot.waitUntil(lambda: window.manifold.point_count() == n and window.scatter.n == n, timeout=5000)


def tile_centre(grid, row: int) -> QPoint:
    grid.view.scrollTo(grid.model.index(row))
    return grid.view.visualRect(grid.model.index(row)).center()


# -- the demo -------------------------------------------------------------------------------------------------


def test_opening_the_demo_runs_its_job_and_fills_every_view(window, qtbot):
    c = window.controller
    arrived, loaded = [], []
    c.samplesArrived.connect(lambda samples, levels: arrived.append(window.grid.model.n))
    c.sessionLoaded.connect(loaded.append)
    c.open_model(DEMO)
    assert window.jobs_panel.kinds() == ["evaluate"] and window.jobs_panel.state("evaluate") == "running"
    qtbot.waitUntil(lambda: bool(loaded), timeout=EVALUATION_TIMEOUT_MS)
    assert arrived == [N_SAMPLES]  # samples were shown before their numbers
    plots_drawn(qtbot, window)
    assert window.jobs_panel.state("evaluate") == DONE
    assert c.session.path.parent == sessions_dir() and c.session.path.is_file()
    assert window.model_combo.currentText() == DEMO_NAME
    assert window.grid.count_label.text() == f"{N_SAMPLES} / {N_SAMPLES}"
    log_px = c.view.sample_columns["log_px"][window.grid.visible_ids()]
    assert np.all(np.diff(log_px) <= 0)  # most likely first
    assert set(window.histogram.curves) == {"held-out real", "samples", "train split"}
    assert np.isfinite(window.scatter.rho)
    names = window.metrics.metric_names()
    assert {"bits/dim, samples", "bits/dim, held-out real", "FID", "KID (MMD², unscaled)", "precision", "recall",
            "Spearman ρ(bits/dim, realism)"} <= set(names), names
    assert not any(window.metrics.is_stale(name) for name in names)
    assert not window.error_box.isVisible()


# -- linked views ---------------------------------------------------------------------------------------------


def test_brushing_the_histogram_filters_the_grid_and_selects_in_every_view(opened, qtbot):
    window, bpd = opened.window, opened.columns["bpd"]
    lo, hi = np.quantile(bpd, [0.2, 0.55])
    y_lo, y_hi = window.histogram.plot.getPlotItem().getViewBox().viewRange()[1]
    y = y_lo + 0.3 * (y_hi - y_lo)
    with qtbot.waitSignal(window.histogram.rangeSelected, timeout=2000):
        drag(qtbot, window.histogram.plot, (lo, y), (hi, y))

    brushed_lo, brushed_hi = window.histogram.brushed_range()
    pixel = window.histogram.plot.getPlotItem().getViewBox().viewPixelSize()[0]
    assert brushed_lo == pytest.approx(lo, abs=2 * pixel) and brushed_hi == pytest.approx(hi, abs=2 * pixel)
    inside = np.flatnonzero((bpd >= brushed_lo) & (bpd <= brushed_hi))
    visible = window.grid.visible_ids()
    assert 0 < len(visible) < N_SAMPLES
    assert np.all((bpd[visible] >= brushed_lo) & (bpd[visible] <= brushed_hi))
    np.testing.assert_array_equal(np.sort(visible), inside)
    assert window.grid.count_label.text() == f"{len(inside)} / {N_SAMPLES}"
    assert f"samples {len(inside)} / {N_SAMPLES}" in window.histogram.count_label.text()
    # one selection, shown everywhere
    np.testing.assert_array_equal(window.controller.selection.ids, inside)
    np.testing.assert_array_equal(window.grid.selected_ids(), inside)
    np.testing.assert_array_equal(window.manifold.selection(), inside)
    np.testing.assert_array_equal(window.scatter.selection(), inside)
    assert len(window.histogram.selected_curve.getData()[0]) > 0
    assert f"{len(inside)} selected (bits/dim" in window.status.text()

    window.clear_action.trigger()  # Clear clears them all
    assert window.histogram.brushed_range() is None
    assert len(window.grid.visible_ids()) == N_SAMPLES and window.grid.selected_ids().size == 0
    assert window.manifold.selection().size == 0 and window.scatter.selection().size == 0


def isolated_visible_point(view, xy: np.ndarray) -> int:
    """A generated point of the manifold view far (in pixels) from every other one, well inside the plot."""
    plot = view.plot
    px, py = plot.getPlotItem().getViewBox().viewPixelSize()
    pixels = xy / [px, py]
    d2 = ((pixels[:, None, :] - pixels[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    area = view.plot.getPlotItem().getViewBox().sceneBoundingRect().adjusted(20, 20, -20, -20)  # the legend sits below it
    for i in np.argsort(-d2.min(axis=1)):
        point = viewport_point(plot, *xy[i])
        if area.contains(plot.mapToScene(point)):
            return int(i)
    raise AssertionError("no clickable generated point")


def test_clicking_a_manifold_point_selects_its_sample_in_the_grid(opened, qtbot):
    window, columns = opened.window, opened.columns
    xy = np.column_stack([columns["proj_x"], columns["proj_y"]])
    target = isolated_visible_point(window.manifold, xy)
    qtbot.mouseClick(window.manifold.plot.viewport(), LEFT, pos=viewport_point(window.manifold.plot, *xy[target]))

    np.testing.assert_array_equal(window.controller.selection.ids, [target])
    np.testing.assert_array_equal(window.grid.selected_ids(), [target])
    np.testing.assert_array_equal(window.scatter.selection(), [target])
    assert np.isfinite(window.manifold.radius_shown)  # its k-NN radius is drawn
    current = window.grid.view.currentIndex()
    assert window.grid.model.id_at(current.row()) == target
    qtbot.waitUntil(lambda: window.grid.view.viewport().rect().intersects(window.grid.view.visualRect(current)))


# -- jobs -----------------------------------------------------------------------------------------------------


def test_cancelling_a_running_evaluation_keeps_the_open_session(opened, qtbot):
    window, c = opened.window, opened.window.controller
    c.n_samples = 20_000  # long enough to still be running when Cancel is clicked
    with qtbot.waitSignal(c.samplesArrived, timeout=EVALUATION_TIMEOUT_MS):
        c.open_model(DEMO)
    assert window.grid.model.n == 20_000 and window.jobs_panel.state("evaluate") == "running"

    row = window.jobs_panel.row("evaluate")
    with qtbot.assertNotEmitted(c.sessionLoaded, wait=200):
        qtbot.mouseClick(row.cancel, LEFT)
        assert window.jobs_panel.state("evaluate") == CANCELLED
        assert not row.cancel.isEnabled()
        assert c.jobs.wait(60_000)  # the worker stops at its next progress check
    assert not c.jobs.is_running("evaluate")
    assert c.session.path == opened.path
    assert not list(sessions_dir().glob("*.genloupe"))  # the cancelled run wrote nothing
    assert window.grid.model.n == N_SAMPLES  # the cancelled run's samples are gone from the grid
    plots_drawn(qtbot, window)


def test_bad_files_show_a_one_line_error_and_the_window_keeps_working(window, qtbot, tmp_path):
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(Path(DEMO.partition("#")[0]).read_bytes()[:2000])

    for bad in (random_bytes, truncated):
        with qtbot.waitSignal(window.controller.failed, timeout=30_000):
            window.open_path(str(bad))
        qtbot.waitUntil(window.error_box.isVisible)
        message = window.error_box.text()
        assert message.startswith(bad.name) and "\n" not in message
        assert window.jobs_panel.state("evaluate") == FAILED
        assert window.jobs_panel.row("evaluate").error.text() == message
        qtbot.mouseClick(window.error_box.button(QMessageBox.StandardButton.Ok), LEFT)
        qtbot.waitUntil(lambda: not window.error_box.isVisible())
    assert window.controller.session is None

    window.controller.n_samples = 100
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        window.controller.open_model(DEMO)
    assert window.jobs_panel.state("evaluate") == DONE
    assert window.grid.model.n == 100 and not window.error_box.isVisible()


# -- flags ----------------------------------------------------------------------------------------------------


def test_flag_keys_commit_to_the_session_file_and_undo_redo(opened, qtbot):
    window, grid = opened.window, opened.window.grid
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.mouseClick(grid.view.viewport(), LEFT, pos=tile_centre(grid, 0))
    qtbot.mouseClick(grid.view.viewport(), LEFT, CTRL, tile_centre(grid, 3))
    ids = np.sort(grid.model.ids_at(np.array([0, 3])))
    np.testing.assert_array_equal(grid.selected_ids(), ids)
    np.testing.assert_array_equal(window.controller.selection.ids, ids)

    def flagged_on_disk() -> dict[int, set[tuple[str, str]]]:
        with Session.open(opened.path, read_only=True) as other:  # a second reader sees what was committed
            rows = other.flag_rows("sample")
        found: dict[int, set[tuple[str, str]]] = {}
        for idx, label, state, *_ in rows:
            found.setdefault(idx, set()).add((label, state))
        return found

    qtbot.keyClick(grid.view, Qt.Key.Key_B)
    assert all(grid.model.flags_of(int(i)) == {"bad"} for i in ids)
    assert {row[0] for row in window.controller.session.flag_rows("sample")} == set(ids.tolist())
    assert flagged_on_disk() == {int(i): {("bad", "confirmed")} for i in ids}
    assert "flags: 2 bad" in window.status.text()
    for line in (grid.count_label, window.histogram.count_label, window.manifold.status, window.scatter.status):
        assert "2 bad" in line.text()  # flag counts in every view

    qtbot.keyClick(grid.view, Qt.Key.Key_Z, CTRL)
    assert all(grid.model.flags_of(int(i)) == frozenset() for i in ids)
    assert window.controller.session.flag_rows("sample") == [] and flagged_on_disk() == {}
    assert "bad" not in window.histogram.count_label.text()

    qtbot.keyClick(grid.view, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert all(grid.model.flags_of(int(i)) == {"bad"} for i in ids)
    assert flagged_on_disk() == {int(i): {("bad", "confirmed")} for i in ids}


# -- layout ---------------------------------------------------------------------------------------------------


def test_the_layout_is_remembered_by_the_next_window(qtbot):
    first = shown_window(qtbot)
    histogram, metrics = first.docks["histogram"], first.docks["metrics"]
    assert first.dockWidgetArea(histogram) == Qt.DockWidgetArea.RightDockWidgetArea
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, histogram)
    metrics.hide()
    first.resizeDocks([histogram], [500], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    width = histogram.width()
    first.close()

    second = shown_window(qtbot)
    assert second.dockWidgetArea(second.docks["histogram"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert second.docks["histogram"].isVisible() and not second.docks["metrics"].isVisible()
    assert abs(second.docks["histogram"].width() - width) <= 20
    assert os.path.isfile(os.path.join(os.environ["GENLOUPE_CONFIG_DIR"], "genloupe.ini"))


# -- edges found in review ---------------------------------------------------------------------------------------


def test_flag_keys_wait_while_a_new_run_is_on_screen(opened, qtbot):
    window, c = opened.window, opened.window.controller
    c.n_samples = 20_000
    with qtbot.waitSignal(c.samplesArrived, timeout=EVALUATION_TIMEOUT_MS):
        c.open_model(DEMO)
    window.grid.select_ids([5])
    qtbot.keyClick(window.grid.view, Qt.Key.Key_B)  # tile 5 of the new run is not tile 5 of the open session
    assert c.session.flag_rows("sample") == []
    assert "flags wait" in window.statusBar().currentMessage()
    c.cancel("evaluate")
    assert c.jobs.wait(60_000)


def test_saving_a_session_onto_itself_keeps_it_usable(opened):
    c = opened.window.controller
    c.save_session_as(opened.path)
    c.flag("bad", True, np.array([1]))
    assert c.session.flag_rows("sample")[0][:3] == (1, "bad", "confirmed")


def test_a_trusted_adapter_stays_trusted_when_the_reference_changes(window, qtbot, tmp_path):
    adapter = tmp_path / "my_model.py"
    adapter.write_text(
        "from genloupe.engine.checkpoints.zoo import load_checkpoint\n"
        f"def load(path):\n    return load_checkpoint({str(demo_model_path('diagonal Gaussian'))!r})\n"
    )
    c = window.controller
    with qtbot.waitSignal(c.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        c.open_model(str(adapter), trust_code=True)
    with qtbot.waitSignal(c.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        c.set_reference("digits")  # re-evaluates the same adapter: the consent holds
    assert c.model_address == str(adapter)

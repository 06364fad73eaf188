"""Features in the window, at a researcher's image size: a 28x28 model evaluates with the default features,
a choice that cannot fit fails before sampling with the dialog and the window intact, choices are
remembered per reference, and a failed first evaluation shows nothing rather than a stale model name."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from genloupe.app.main_window import build_window
from genloupe.widgets.jobs_panel import FAILED

from ..digits28 import gaussian28, write_digits28
from ..widgets.plot_driving import settle

N_SAMPLES = 300
EVALUATION_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def digits28(tmp_path_factory):
    folder = write_digits28(tmp_path_factory.mktemp("digits28") / "images", n=600)
    return folder, gaussian28(folder, folder.parent / "gaussian28.pt")


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLOUPE_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def window(qtbot):
    window = build_window()
    qtbot.addWidget(window)
    window.controller.n_samples = N_SAMPLES
    window.show()
    qtbot.waitExposed(window)
    return window


def choose_features(window, text: str) -> None:
    """Pick an entry of the Features box as a person does (the box emits activated)."""
    box = window.feature_choice
    index = box.findText(text)
    assert index >= 0, text
    box.setCurrentIndex(index)
    box.activated.emit(index)


def dismiss_error(window, qtbot) -> str:
    qtbot.waitUntil(window.error_box.isVisible)
    message = window.error_box.text()
    window.error_box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not window.error_box.isVisible())
    return message


def test_a_28x28_model_evaluates_with_default_features_and_a_misfit_fails_before_sampling(window, digits28, qtbot, tmp_path):
    folder, model = digits28
    window.controller.set_reference(str(folder))  # File ▸ Reference data…
    assert window.feature_choice.spec() == "auto"
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        window.open_path(str(model))
    view = window.controller.view
    assert view.samples.shape == (N_SAMPLES, 1, 28, 28) and view.run["features"] == "pixels"
    assert {"fid", "kid", "precision", "recall"} <= set(view.metrics)
    assert "weak proxy" in view.metrics["fid"]["convention"] and "weak proxy" in window.feature_choice.note.text()
    assert window.feature_choice.currentText() == "auto: pixels"  # what auto chose for these 28x28 images
    assert window.model_combo.currentText() == "gaussian28.pt" and window.grid.model.n == N_SAMPLES
    qtbot.waitUntil(lambda: window.manifold.point_count() == N_SAMPLES, timeout=5000)
    settle(window)
    window.grab().save(str(tmp_path / "window-28x28.png"))

    arrived = []
    window.controller.samplesArrived.connect(lambda samples, levels: arrived.append(samples))
    with qtbot.waitSignal(window.controller.failed, timeout=30_000) as failure:
        choose_features(window, "digits-cnn")
    assert failure.args[0].startswith("features digits-cnn take 1x8x8 images only") and "1x28x28" in failure.args[0]
    assert dismiss_error(window, qtbot) == failure.args[0]
    assert arrived == []  # refused before any sampling
    assert window.jobs_panel.state("evaluate") == FAILED and window.jobs_panel.row("evaluate").progress.value() == 0
    assert window.view_data is view and window.controller.view is view  # the last good state, still shown
    assert window.grid.model.n == N_SAMPLES and window.model_combo.currentText() == "gaussian28.pt"
    assert window.manifold.point_count() == N_SAMPLES
    window.grab().save(str(tmp_path / "window-after-misfit.png"))

    assert window.feature_choice.spec() == "auto"  # back to the features of what is shown
    assert "weak proxy" in window.feature_choice.note.text()

    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        choose_features(window, "pixels")
    assert window.settings.features_for(str(folder)) == "pixels"  # remembered for this reference once it worked
    with qtbot.waitSignal(window.controller.failed, timeout=30_000):  # the 28x28 model does not fit the 8x8 digits
        window.controller.set_reference("digits")
    dismiss_error(window, qtbot)
    assert window.feature_choice.spec() == "auto"  # nothing chosen for the digits yet
    with qtbot.waitSignal(window.controller.sessionLoaded, timeout=EVALUATION_TIMEOUT_MS):
        window.controller.set_reference(str(folder))
    assert window.feature_choice.spec() == "pixels" and window.controller.view.run["features"] == "pixels"


def test_a_first_evaluation_that_fails_shows_no_model(window, digits28, qtbot):
    _, model = digits28  # a 28x28 model against the default reference, the 8x8 digits
    with qtbot.waitSignal(window.controller.failed, timeout=30_000) as failure:
        window.open_path(str(model))
    assert "makes images of shape 1x28x28 but the reference data are 1x8x8" in failure.args[0]
    dismiss_error(window, qtbot)
    assert window.model_combo.currentIndex() == -1 and window.model_combo.placeholderText() == "no model open"
    assert window.grid.model.n == 0 and window.controller.view is None

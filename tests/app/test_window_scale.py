"""The window at scale (issue 9): it paints before torch is imported, sessions are read in a worker, and the
in-memory flag bits stay equal to the session file through every flag command, undo and redo."""

from __future__ import annotations

import subprocess
import sys
import threading
from importlib.resources import files

import numpy as np
import pytest

from genloupe.app import controller as controller_module
from genloupe.app.flag_bits import FlagBits
from genloupe.app.main_window import build_window
from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.results import write_session
from genloupe.engine.session import Session

PAINT_WITHOUT_TORCH = """
import sys
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from genloupe.app.main_window import build_window
window = build_window()
window.show()
QTest.qWaitForWindowExposed(window)
window.grab()
print("torch imported" if "torch" in sys.modules else "painted without torch")
"""


def test_the_window_paints_before_torch_is_imported(tmp_path):
    env = {"QT_QPA_PLATFORM": "offscreen", "GENLOUPE_CONFIG_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run([sys.executable, "-c", PAINT_WITHOUT_TORCH], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "painted without torch"


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    checkpoint = str(files("genloupe.assets") / "demo" / "gaussian.pt")
    evaluation = evaluate(open_model(checkpoint), open_data("digits").split("test"),
                          EvaluationSettings(n_samples=300, device="cpu", metrics=("ll", "pr", "dc")))
    path = tmp_path_factory.mktemp("scale") / "gaussian.genloupe"
    write_session(evaluation, path, {"checkpoint": checkpoint, "checkpoint_hash": content_hash(checkpoint)}).close()
    return path


def on_disk(path) -> np.ndarray:
    with Session.open(path, read_only=True) as other:
        return FlagBits(300, other.flag_rows("sample")).words


def test_a_session_is_read_in_a_worker_and_the_flag_bits_follow_the_file(session_file, tmp_path, qtbot, monkeypatch):
    readers = []
    read = controller_module.read_session
    monkeypatch.setattr(controller_module, "read_session",
                        lambda *args, **kwargs: (readers.append(threading.get_ident()), read(*args, **kwargs))[1])
    copy = tmp_path / "copy.genloupe"
    copy.write_bytes(session_file.read_bytes())
    window = build_window()
    qtbot.addWidget(window)
    c = window.controller
    with qtbot.waitSignal(c.sessionLoaded, timeout=30_000):
        c.open_session(copy)
        assert c.session is None  # the call only started the job
    assert readers and threading.get_ident() not in readers
    qtbot.waitUntil(lambda: bool(window.histogram.curves) and window.scatter.n == 300)  # drawn one per turn
    assert window.grid.model.n == 300

    steps = [lambda: c.flag("bad", True, np.arange(0, 40)), lambda: c.flag("memorized", True, np.arange(30, 50)),
             lambda: c.suggest(), lambda: c.confirm_suggestions(np.arange(0, 300, 3)), c.undo, c.undo, c.redo,
             lambda: c.flag("*", False, np.arange(10, 20)), c.undo, lambda: c.flag("bad", False, np.arange(0, 5))]
    for step in steps:
        step()
        np.testing.assert_array_equal(c.flags.words, on_disk(copy))
        shown = [window.grid.model.flags_of(i) for i in range(300)]
        assert shown == [frozenset(c.flags.labels(i)) for i in range(300)]
    assert c.flags.words.any()

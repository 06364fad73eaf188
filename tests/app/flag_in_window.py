"""Flag samples in a real GenLoupe window with flag keys, print what the window shows, die by SIGKILL.

Run by tests/app/test_flagging.py as a subprocess (not collected by pytest):

    QT_QPA_PLATFORM=offscreen GENLOUPE_CONFIG_DIR=SCRATCH python tests/app/flag_in_window.py SESSION

It opens SESSION in the window built by build_window(), writes one note, selects tiles (in the
grid's order: most likely first) and presses B, M, 3, Shift+B and G on the grid, then prints one line

    flagged {"intended": {id: [labels]}, "shown": {id: [labels]}, "notes": {id: text}}

("intended" is what the key presses mean, "shown" the badges the grid draws) and kills itself with
SIGKILL at once: no close event, no Python shutdown, no chance to flush anything late.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from genloupe.app.main_window import build_window


@contextmanager
def until_one_of(*signals, timeout_ms: int = 60_000) -> Iterator[None]:
    """Run the block, then the event loop until one of the signals fires (or the timeout passes)."""
    loop = QEventLoop()
    for signal_ in signals:
        signal_.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    yield
    loop.exec()


SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier
NOTE = "noise, but the likelihood ranks it <high> & \"fine\""


def main(session: str) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = build_window()
    window.show()
    QTest.qWaitForWindowExposed(window)
    with until_one_of(window.controller.sessionLoaded, window.controller.failed):
        window.controller.open_session(session)  # read in a worker
    if window.controller.session is None:
        raise SystemExit(f"could not open {session}")
    grid = window.grid
    order = [int(i) for i in grid.visible_ids()]
    steps = [  # (display rows, key, modifier, label, add)
        (range(0, 6), Qt.Key.Key_B, NONE, "bad", True),
        (range(6, 10), Qt.Key.Key_M, NONE, "memorized", True),
        ((2, 7, 10, 11), Qt.Key.Key_3, NONE, "3", True),
        ((1,), Qt.Key.Key_B, SHIFT, "bad", False),
        ((len(order) - 1,), Qt.Key.Key_G, NONE, "good", True),
    ]
    window.controller.set_note(order[0], NOTE)  # first: the flag keys must commit on their own
    intended: dict[int, set[str]] = {}
    for rows, key, modifier, label, add in steps:
        ids = [order[row] for row in rows]
        grid.select_ids(ids)
        QTest.keyClick(grid.view, key, modifier)
        for idx in ids:
            labels = intended.setdefault(idx, set())
            labels.add(label) if add else labels.discard(label)
    app.processEvents()
    shown = {idx: sorted(grid.model.flags_of(idx)) for idx in range(grid.model.n) if grid.model.flags_of(idx)}
    state = {
        "intended": {idx: sorted(labels) for idx, labels in intended.items() if labels},
        "shown": shown,
        "notes": {order[0]: NOTE},
    }
    print("flagged " + json.dumps(state), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1])

"""Guard against PySide6 6.12.0's emit refcount bug, which aborts the process after enough signals."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(str)


def test_emitting_signals_keeps_the_refcount_of_true(qapp):
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(2000):
        emitter.fired.emit("x")
    assert abs(sys.getrefcount(True) - before) < 50

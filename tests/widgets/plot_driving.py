"""Driving pyqtgraph plots with real mouse events in tests."""

import numpy as np
from PySide6 import QtCore, QtWidgets

from genloupe.widgets.theme import viewport_point

LEFT = QtCore.Qt.MouseButton.LeftButton


def settle(widget: QtWidgets.QWidget) -> None:
    """Show the widget and let its plots lay out: axes resize to their tick labels on first paint."""
    widget.show()
    for _ in range(3):
        widget.grab()
        QtWidgets.QApplication.processEvents()


def click(qtbot, plot, x: float, y: float, modifier=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    """Left-click the plot where view position (x, y) is drawn."""
    qtbot.mouseClick(plot.viewport(), LEFT, modifier, viewport_point(plot, x, y))


def double_click(qtbot, plot, x: float, y: float) -> None:
    """Left double-click as a user makes it (QTest's double click alone sends no release)."""
    pos = viewport_point(plot, x, y)
    qtbot.mouseClick(plot.viewport(), LEFT, pos=pos)
    qtbot.mouseDClick(plot.viewport(), LEFT, pos=pos)
    qtbot.mouseRelease(plot.viewport(), LEFT, pos=pos)


def drag(qtbot, plot, start: tuple[float, float], end: tuple[float, float],
         modifier=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    """Left-drag from one view position to another in a few steps."""
    viewport = plot.viewport()
    a, b = viewport_point(plot, *start), viewport_point(plot, *end)
    qtbot.mousePress(viewport, LEFT, modifier, a)
    for t in np.linspace(0.2, 1.0, 5):
        qtbot.wait(15)  # pyqtgraph drops moves closer than 10 ms apart
        qtbot.mouseMove(viewport, QtCore.QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y()))))
    qtbot.mouseRelease(viewport, LEFT, modifier, b)

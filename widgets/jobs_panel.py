"""Jobs panel: one row per job kind with progress, stage, elapsed time, Cancel, and errors.

The app runs one job per kind (a new one replaces the old), so rows are keyed by kind and a
restart reuses the row. The panel only shows state and asks for cancellation; the app decides.
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


class JobRow(QtWidgets.QFrame):
    """Title, progress bar, stage text, Cancel button and (when it failed) the error."""

    def __init__(self, kind: str, title: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.state = RUNNING
        self._started = 0.0
        self.title = QtWidgets.QLabel(title)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setFixedWidth(110)  # progress bars of all rows line up
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(160)
        self.stage = QtWidgets.QLabel()
        self.stage.setMinimumWidth(120)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        palette = self.error.palette()
        palette.setColor(QtGui.QPalette.ColorRole.WindowText, QtGui.QColor("#B00020"))
        self.error.setPalette(palette)
        self.error.hide()

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.progress, 1)
        top.addWidget(self.stage)
        top.addWidget(self.cancel)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.error)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.restart(title)

    def restart(self, title: str) -> None:
        """Back to running, from zero."""
        self.state = RUNNING
        self._started = time.monotonic()
        self.title.setText(title)
        self.progress.setRange(0, 0)  # busy until the first update says how much there is
        self.stage.setText("starting")
        self.cancel.setEnabled(True)
        self.error.clear()
        self.error.hide()

    def elapsed(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self._started

    def end(self, state: str, text: str) -> None:
        """Stop in a final state; the row stays to show how it ended."""
        self.state = state
        self.cancel.setEnabled(False)
        if state == DONE:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        else:  # failed or cancelled: an empty bar, never the last stage's 100 % (nor a busy one)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.stage.setText(f"{text} ({self.elapsed():.1f} s)")


class JobsPanel(QtWidgets.QWidget):
    """Rows of jobs keyed by kind; Cancel emits cancelRequested(kind)."""

    cancelRequested = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._rows: dict[str, JobRow] = {}
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._empty = QtWidgets.QLabel("no jobs yet")
        self._empty.setEnabled(False)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)

    def row(self, kind: str) -> JobRow:
        """The row of a job kind (KeyError if it never ran)."""
        return self._rows[kind]

    def kinds(self) -> list[str]:
        """Job kinds shown, in order of first start."""
        return list(self._rows)

    def state(self, kind: str) -> str:
        """'running', 'done', 'failed' or 'cancelled'."""
        return self._rows[kind].state

    def start_job(self, kind: str, title: str | None = None) -> None:
        """Show a job of this kind as started (reusing its row if the kind ran before)."""
        title = title or kind
        row = self._rows.get(kind)
        if row is None:
            row = self._rows[kind] = JobRow(kind, title)
            row.cancel.clicked.connect(lambda _checked=False, k=kind: self._on_cancel(k))
            self._layout.insertWidget(self._layout.count() - 1, row)
            self._empty.hide()
        else:
            row.restart(title)

    def update_job(self, kind: str, done: int, total: int | None, stage: str = "") -> None:
        """Progress of a running job; total None or 0 shows a busy bar."""
        row = self._rows[kind]
        if row.state != RUNNING:
            return
        if total:
            row.progress.setRange(0, int(total))
            row.progress.setValue(min(int(done), int(total)))
        else:
            row.progress.setRange(0, 0)
        row.stage.setText(stage)

    def finish_job(self, kind: str, text: str = "done") -> None:
        """The job completed."""
        self._rows[kind].end(DONE, text)

    def fail_job(self, kind: str, message: str) -> None:
        """The job stopped on an error; its one-line message stays visible under the row."""
        row = self._rows[kind]
        row.end(FAILED, "failed")
        row.error.setText(message)
        row.error.show()

    def cancelled_job(self, kind: str) -> None:
        """The job acknowledged cancellation."""
        self._rows[kind].end(CANCELLED, "cancelled")

    def remove_job(self, kind: str) -> None:
        """Drop the row of a kind."""
        row = self._rows.pop(kind)
        self._layout.removeWidget(row)
        row.deleteLater()
        self._empty.setVisible(not self._rows)

    def _on_cancel(self, kind: str) -> None:
        row = self._rows[kind]
        row.cancel.setEnabled(False)
        row.stage.setText("cancelling…")
        self.cancelRequested.emit(kind)

"""Metrics panel: every metric with its value, interval, sample size and convention.

A number without its convention misleads (bits/dim under which dequantization? FID on which
features?), so the convention is a column, not a footnote. When the inputs a metric was computed
from change (another checkpoint, other reference data), the app marks it stale: the row is
greyed out and says so until fresh values arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

COLUMNS = ("metric", "value", "interval", "n", "convention", "status")
STALE = "stale"
_BETTER = {"lower": " ↓", "higher": " ↑"}


def format_number(value: Any) -> str:
    """Compact text for a metric value: 4 significant digits, thousands separated, '—' if missing."""
    if value is None:
        return "—"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    v = float(value)
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    return f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def format_interval(interval: Sequence[float] | None) -> str:
    """'[lo, hi]' or '' when there is no interval."""
    if interval is None:
        return ""
    lo, hi = interval
    return f"[{format_number(lo)}, {format_number(hi)}]"


class MetricsPanel(QtWidgets.QTableWidget):
    """A read-only table, one row per metric, rows keyed by metric name.

    A metric is a mapping with 'name' and optional 'value' (float or None), 'interval' ((lo, hi)
    or None), 'n' (int or text such as '500 vs 360'), 'convention' (text), 'better' ('lower' or
    'higher', shown as an arrow) and 'note' (tooltip).
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([c if c == "n" else c.capitalize() for c in COLUMNS])
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("convention"), QtWidgets.QHeaderView.ResizeMode.Stretch)
        self._rows: dict[str, int] = {}
        self._stale: set[str] = set()

    def set_metrics(self, metrics: Iterable[Mapping[str, Any]]) -> None:
        """Replace every row with these metrics (all fresh)."""
        self.setRowCount(0)
        self._rows.clear()
        self._stale.clear()
        self.merge_metrics(metrics)

    def merge_metrics(self, metrics: Iterable[Mapping[str, Any]]) -> None:
        """Update the rows of these metrics (fresh again), appending the ones not shown yet."""
        for metric in metrics:
            name = str(metric["name"])
            row = self._rows.get(name)
            if row is None:
                row = self._rows[name] = self.rowCount()
                self.insertRow(row)
            self._stale.discard(name)
            texts = (name + _BETTER.get(str(metric.get("better")), ""), format_number(metric.get("value")),
                     format_interval(metric.get("interval")), _n_text(metric.get("n")),
                     str(metric.get("convention") or ""), "")
            for column, text in enumerate(texts):
                item = QtWidgets.QTableWidgetItem(text)
                if COLUMNS[column] in ("value", "interval", "n"):
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if metric.get("note"):
                    item.setToolTip(str(metric["note"]))
                self.setItem(row, column, item)
            self._paint_row(row, stale=False)

    def metric_names(self) -> list[str]:
        """Names of the metrics shown, in row order."""
        return sorted(self._rows, key=self._rows.__getitem__)

    def mark_stale(self, names: Iterable[str] | None = None) -> None:
        """Mark these metrics (default: all) stale: their inputs changed since they were computed."""
        for name in self._rows if names is None else names:
            if name in self._rows:
                self._stale.add(name)
                self._paint_row(self._rows[name], stale=True)

    def is_stale(self, name: str) -> bool:
        """Whether the metric's value predates a change of its inputs."""
        return name in self._stale

    def cell_text(self, name: str, column: str) -> str:
        """The text shown in a metric's cell (column one of COLUMNS)."""
        return self.item(self._rows[name], COLUMNS.index(column)).text()

    def _paint_row(self, row: int, *, stale: bool) -> None:
        colour = self.palette().color(QtGui.QPalette.ColorRole.Text)
        if stale:  # halfway to the background: readable, visibly not current
            base = self.palette().color(QtGui.QPalette.ColorRole.Base)
            colour = QtGui.QColor(*((a + b) // 2 for a, b in zip(colour.getRgb()[:3], base.getRgb()[:3])))
        for column in range(self.columnCount()):
            item = self.item(row, column)
            font = item.font()
            font.setItalic(stale)
            item.setFont(font)
            item.setForeground(colour)
        status = self.item(row, COLUMNS.index("status"))
        status.setText(f"⟳ {STALE}" if stale else "")
        status.setToolTip("inputs changed since this was computed" if stale else "")


def _n_text(n: Any) -> str:
    return "" if n is None else format_number(n) if isinstance(n, int) else str(n)

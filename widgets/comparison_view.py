"""Several models side by side: a table, bits/dim against a quality metric, and the two rankings with τ.

One row per model with every metric's value, interval and sample sizes; a plot of held-out bits/dim
(x) against the chosen quality metric (y), one point per model with its interval bars; and the
ranking by likelihood beside the ranking by that metric, with Kendall's τ. Pairs of models the two
rankings order differently are highlighted: in the rankings and as dashed lines in the plot.
Clicking a model (its row, its point, its name in a ranking) emits ``modelActivated(row)``.

Plain values only (no engine): the app computes rankings and τ and hands them over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from . import theme
from .metrics_panel import format_interval, format_number

Interval = tuple[float, float] | None
DISCORDANT = QtGui.QColor("#F6C9C9")  # a pair the rankings order differently
_ARROWS = {"lower": "↓", "higher": "↑"}


@dataclass(frozen=True)
class ModelRow:
    """One model: its name, epoch, and per metric key (value, interval, sample sizes)."""

    name: str
    cells: dict[str, tuple[float | None, Interval, str]]
    epoch: int | None = None
    likelihood_kind: str = ""  # what the bits/dim is: 'exact', 'IWAE-64 bound', ...


@dataclass(frozen=True)
class RankingPair:
    """Row indices best first by likelihood and by a quality metric, Kendall's τ, discordant (i, j) row pairs."""

    by_likelihood: list[int]
    by_quality: list[int]
    tau: float
    discordant: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    better: str | None  # 'lower', 'higher'


class ComparisonView(QtWidgets.QWidget):
    """Table on top; below, the plot and the rankings of the chosen quality metric."""

    modelActivated = QtCore.Signal(int)  # row index
    metricChanged = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.rows: list[ModelRow] = []
        self.columns: list[Column] = []
        self.rankings: dict[str, RankingPair] = {}
        self.likelihood_key = "bpd"

        self.table = QtWidgets.QTableWidget()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.cellClicked.connect(lambda row, _: self.modelActivated.emit(row))

        self.metric_box = QtWidgets.QComboBox()
        self.metric_box.currentIndexChanged.connect(self._on_metric)
        self.plot = theme.make_plot("held-out bits/dim", "quality")
        self._scatter = pg.ScatterPlotItem(size=11, pen=pg.mkPen(theme.plot_colours()[1]), brush=pg.mkBrush(theme.GENERATED))
        self._scatter.setZValue(10)
        self._scatter.sigClicked.connect(self._on_point)
        self._bars = pg.ErrorBarItem(pen=pg.mkPen(theme.with_alpha(theme.plot_colours()[1], 150), width=1.2))
        self.plot.addItem(self._bars)
        self.plot.addItem(self._scatter)
        self._overlays: list[pg.GraphicsObject] = []
        self._points: dict[int, tuple[float, float]] = {}
        self._extent = (np.zeros(0),) * 4

        self.ranking_table = QtWidgets.QTableWidget(0, 2)
        self.ranking_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.ranking_table.verticalHeader().setDefaultSectionSize(22)
        self.ranking_table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.ranking_table.cellClicked.connect(self._on_ranking_click)
        self.tau_label = QtWidgets.QLabel()
        self.discordant_label = QtWidgets.QLabel()
        self.discordant_label.setWordWrap(True)
        self.pair_list = QtWidgets.QListWidget()  # selecting a pair picks it out in the rankings and the plot
        self.pair_list.currentRowChanged.connect(self._on_pair)
        self._pair_lines: list[pg.PlotCurveItem] = []
        self.notes_label = theme.status_label()
        self.notes_label.setWordWrap(True)
        self._build_layout()

    def _build_layout(self) -> None:
        header = QtWidgets.QHBoxLayout()
        header.addWidget(QtWidgets.QLabel("Quality metric:"))
        header.addWidget(self.metric_box)
        header.addStretch(1)
        rankings = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(rankings)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.tau_label)
        box.addWidget(self.ranking_table, 3)
        box.addWidget(self.discordant_label)
        box.addWidget(self.pair_list, 2)
        lower = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        lower.addWidget(self.plot)
        lower.addWidget(rankings)
        lower.setSizes([600, 360])
        upper = QtWidgets.QWidget()
        top = QtWidgets.QVBoxLayout(upper)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.table, 1)
        top.addWidget(self.notes_label)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(upper)
        body = QtWidgets.QWidget()
        lower_box = QtWidgets.QVBoxLayout(body)
        lower_box.setContentsMargins(0, 0, 0, 0)
        lower_box.addLayout(header)
        lower_box.addWidget(lower, 1)
        split.addWidget(body)
        split.setSizes([260, 420])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)

    # -- data -------------------------------------------------------------------------------------------

    def set_data(self, rows: list[ModelRow], columns: list[Column], rankings: dict[str, RankingPair],
                 notes: str = "") -> None:
        """Show ``rows``; ``columns[0]`` is the likelihood; ``rankings`` maps each quality column key to its ranking;
        ``notes`` (conventions, a noise sweep's bound) go under the table."""
        self.rows, self.columns, self.rankings = list(rows), list(columns), dict(rankings)
        self.likelihood_key = columns[0].key if columns else "bpd"
        self._fill_table()
        self.notes_label.setText(notes)
        current = self.metric_box.currentData()
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        for column in self.columns[1:]:
            if any(row.cells.get(column.key, (None,))[0] is not None for row in self.rows):
                self.metric_box.addItem(column.header, column.key)
        index = self.metric_box.findData(current)
        self.metric_box.setCurrentIndex(index if index >= 0 else self._default_metric())
        self.metric_box.blockSignals(False)
        self._show_metric()

    def set_metric(self, key: str) -> None:
        index = self.metric_box.findData(key)
        if index >= 0:
            self.metric_box.setCurrentIndex(index)

    def quality_metric(self) -> str | None:
        return self.metric_box.currentData()

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    # -- drawing ------------------------------------------------------------------------------------------

    def _fill_table(self) -> None:
        headers = ["model", "epoch"] + [self._header(c) for c in self.columns] + ["bits/dim is", "n (bits/dim)", "n (quality)"]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(self.rows))
        self.table.setHorizontalHeaderLabels(headers)
        for r, row in enumerate(self.rows):
            items = [row.name, "" if row.epoch is None else str(row.epoch)]
            for column in self.columns:
                value, interval, _ = row.cells.get(column.key, (None, None, ""))
                items.append(f"{format_number(value)} {format_interval(interval)}".strip())
            likelihood = row.cells.get(self.likelihood_key, (None, None, ""))[2]
            quality = next((cell[2] for key, cell in row.cells.items() if key != self.likelihood_key and cell[2]), "")
            items += [row.likelihood_kind, likelihood, quality]
            for c, text in enumerate(items):
                item = QtWidgets.QTableWidgetItem(text)
                if 2 <= c < 2 + len(self.columns):
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    item.setToolTip(f"{self.columns[c - 2].header}: {text} ({row.cells.get(self.columns[c - 2].key, (0, 0, ''))[2]})")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _header(self, column: Column) -> str:
        return f"{column.header} {_ARROWS.get(column.better or '', '')}".strip()

    def _default_metric(self) -> int:
        index = self.metric_box.findData("precision")
        return index if index >= 0 else 0

    def _on_metric(self) -> None:
        self._show_metric()
        key = self.quality_metric()
        if key:
            self.metricChanged.emit(key)

    def _show_metric(self) -> None:
        key = self.quality_metric()
        for item in self._overlays:
            self.plot.removeItem(item)
        self._overlays = []
        column = next((c for c in self.columns if c.key == key), None)
        if column is None:
            self._scatter.setData([])
            self._bars.setData(**{key: np.zeros(0) for key in ("x", "y", "left", "right", "top", "bottom")})
            self.tau_label.setText("")
            self.ranking_table.setRowCount(0)
            self.discordant_label.setText("")
            self.pair_list.clear()
            return
        theme.set_axis_title(self.plot, "left", self._header(column))
        theme.set_axis_title(self.plot, "bottom", f"{self._header(self.columns[0])} (held-out)")
        self._draw_points(column)
        self._show_ranking(column, self.rankings.get(column.key))
        self._fit_view()

    def _draw_points(self, column: Column) -> None:
        xs, ys, lo_x, hi_x, lo_y, hi_y, rows = [], [], [], [], [], [], []
        for r, row in enumerate(self.rows):
            x, x_int, _ = row.cells.get(self.likelihood_key, (None, None, ""))
            y, y_int, _ = row.cells.get(column.key, (None, None, ""))
            if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                continue
            xs.append(x)
            ys.append(y)
            lo_x.append(x - x_int[0] if x_int else 0.0)
            hi_x.append(x_int[1] - x if x_int else 0.0)
            lo_y.append(y - y_int[0] if y_int else 0.0)
            hi_y.append(y_int[1] - y if y_int else 0.0)
            rows.append(r)
        self._scatter.setData(x=xs, y=ys, data=rows)
        self._bars.setData(x=np.array(xs), y=np.array(ys), left=np.array(lo_x), right=np.array(hi_x),
                           bottom=np.array(lo_y), top=np.array(hi_y), beam=0)
        self._points = dict(zip(rows, zip(xs, ys)))
        foreground = theme.plot_colours()[1]
        for r, (x, y) in self._points.items():
            label = pg.TextItem(self.rows[r].name, color=foreground, anchor=(0, 1))
            label.setPos(x, y)
            self._add_overlay(label)
        ranking = self.rankings.get(column.key)
        self._pair_lines = []
        for i, j in ranking.discordant if ranking else []:
            (x0, y0), (x1, y1) = self._points.get(i, (np.nan, np.nan)), self._points.get(j, (np.nan, np.nan))
            line = pg.PlotCurveItem([x0, x1], [y0, y1], pen=_pair_pen(False), connect="finite")
            self._add_overlay(line)
            self._pair_lines.append(line)
        self._extent = (np.array(xs) - np.array(lo_x), np.array(xs) + np.array(hi_x),
                        np.array(ys) - np.array(lo_y), np.array(ys) + np.array(hi_y))

    def _fit_view(self) -> None:
        """Fit the points with their interval bars (labels and lines do not widen the view)."""
        x_low, x_high, y_low, y_high = self._extent
        if not len(x_low):
            return
        for low, high, setter in ((x_low.min(), x_high.max(), self.plot.setXRange), (y_low.min(), y_high.max(), self.plot.setYRange)):
            pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(high), 1e-3)
            setter(low - pad, high + 2 * pad, padding=0)

    def _add_overlay(self, item: pg.GraphicsObject) -> None:
        self.plot.addItem(item)
        self._overlays.append(item)

    def _show_ranking(self, column: Column, ranking: RankingPair | None) -> None:
        self.ranking_table.setHorizontalHeaderLabels([f"by {self._header(self.columns[0])}", f"by {self._header(column)}"])
        if ranking is None:
            self.ranking_table.setRowCount(0)
            self.tau_label.setText("fewer than two models have both numbers")
            self.discordant_label.setText("")
            self.pair_list.clear()
            return
        self.tau_label.setText(f"Kendall's τ = {format_number(ranking.tau)} between the two rankings "
                               f"({len(ranking.by_likelihood)} models)")
        involved = {k for pair in ranking.discordant for k in pair}
        self.ranking_table.setRowCount(len(ranking.by_likelihood))
        for place, pair in enumerate(zip(ranking.by_likelihood, ranking.by_quality)):
            for c, r in enumerate(pair):
                item = QtWidgets.QTableWidgetItem(f"{place + 1}. {self.rows[r].name}")
                item.setData(QtCore.Qt.ItemDataRole.UserRole, r)
                if r in involved:
                    item.setBackground(DISCORDANT)
                    item.setForeground(QtGui.QColor("black"))
                self.ranking_table.setItem(place, c, item)
        total = len(ranking.by_likelihood) * (len(ranking.by_likelihood) - 1) // 2
        self.discordant_label.setText(
            f"<b>{len(ranking.discordant)} of {total} pairs part ways</b>: the likelihood prefers the first, "
            f"{column.header} the second (dashed in the plot; pick one to see it)")
        self.pair_list.blockSignals(True)
        self.pair_list.clear()
        self.pair_list.addItems([f"{self.rows[i].name}  ≻  {self.rows[j].name}" for i, j in ranking.discordant])
        self.pair_list.blockSignals(False)

    def _on_pair(self, index: int) -> None:
        """Pick out discordant pair ``index``: its line bold, its two models marked in both rankings."""
        ranking = self.rankings.get(self.quality_metric() or "")
        if ranking is None or not 0 <= index < len(ranking.discordant):
            return
        pair = set(ranking.discordant[index])
        for k, line in enumerate(self._pair_lines):
            line.setPen(_pair_pen(k == index))
        for place in range(self.ranking_table.rowCount()):
            for c in range(2):
                item = self.ranking_table.item(place, c)
                bold = item.font()
                bold.setBold(int(item.data(QtCore.Qt.ItemDataRole.UserRole)) in pair)
                item.setFont(bold)

    def discordant_rows(self) -> set[int]:
        """Rows highlighted in the rankings shown (for tests and the report)."""
        ranking = self.rankings.get(self.quality_metric() or "")
        return {k for pair in ranking.discordant for k in pair} if ranking else set()

    # -- clicks -----------------------------------------------------------------------------------------

    def _on_point(self, item: pg.ScatterPlotItem, points: list, event: object) -> None:
        if len(points):
            self.modelActivated.emit(int(points[0].data()))

    def _on_ranking_click(self, row: int, column: int) -> None:
        item = self.ranking_table.item(row, column)
        if item is not None:
            self.modelActivated.emit(int(item.data(QtCore.Qt.ItemDataRole.UserRole)))


def _pair_pen(picked: bool) -> QtGui.QPen:
    return pg.mkPen(theme.FLAGGED, width=2.5 if picked else 1.0,
                    style=QtCore.Qt.PenStyle.SolidLine if picked else QtCore.Qt.PenStyle.DashLine)

"""One sample up close: the image large, its numbers, its nearest real neighbours, and where its
bits go pixel by pixel (the tell of a model that buys likelihood on pixels nobody looks at)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .thumbnails import fit_scaled, rgb_to_qimage, scaled_pixmap

_COLOUR_MAP = "inferno"


def format_value(value: object) -> str:
    """A number as people read it in a table: 4 significant digits, '–' for missing."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        value = float(value)
        return "–" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def bits_map(per_pixel_bits: np.ndarray) -> np.ndarray:
    """Bits per pixel location (H,W): channels (and a leading batch of one) summed."""
    bits = np.asarray(per_pixel_bits, dtype=np.float64)
    if bits.ndim == 4 and bits.shape[0] == 1:
        bits = bits[0]
    if bits.ndim == 3:
        bits = bits.sum(axis=0)
    if bits.ndim != 2:
        raise ValueError(f"expected per-pixel bits (H,W), (C,H,W) or (1,C,H,W), got shape {per_pixel_bits.shape}")
    return bits


def colorize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(H,W) floats to (H,W,3) uint8 through the colour map, lo..hi spanning it; NaN is grey."""
    lut = pg.colormap.get(_COLOUR_MAP).getLookupTable(nPts=256, alpha=False)
    span = hi - lo if hi > lo else 1.0
    finite = np.isfinite(values)
    index = np.clip((np.where(finite, values, lo) - lo) / span * 255.0, 0, 255).astype(np.intp)
    rgb = lut[index]
    rgb[~finite] = 128
    return rgb


class Inspector(QWidget):
    """The inspector dock's content. Call show_sample() with numpy arrays and plain values."""

    def __init__(self, parent: QWidget | None = None, *, image_size: int = 192, neighbour_size: int = 64) -> None:
        super().__init__(parent)
        self.image_size = image_size
        self.neighbour_size = neighbour_size

        self.title_label = QLabel()
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)

        self.image_label = QLabel()
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setFixedSize(image_size, image_size)

        self.bits_label = QLabel()
        self.bits_label.setFixedSize(image_size, image_size)
        self.bits_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bits_bar = QLabel()
        self.bits_max_label = QLabel()
        self.bits_min_label = QLabel()
        self.bits_caption = QLabel("bits per pixel")
        self.bits_panel = self._bits_panel()

        images = QHBoxLayout()
        images.addWidget(self._captioned(self.image_label, QLabel("sample")))
        images.addWidget(self.bits_panel)
        images.addStretch(1)

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["quantity", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

        self.neighbours_caption = QLabel("nearest real neighbours")
        self.neighbours_row = QHBoxLayout()
        self.neighbours_row.setSpacing(6)
        self.neighbour_labels: list[QLabel] = []

        self.placeholder = QLabel("No sample selected: double-click a tile or press Space.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)

        self.content = QWidget()
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(self.title_label)
        content.addLayout(images)
        content.addWidget(self.table)
        content.addWidget(self.neighbours_caption)
        content.addLayout(self.neighbours_row)
        content.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.content)
        self.clear()

    def _captioned(self, widget: QWidget, caption: QLabel) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(caption)
        return box

    def _bits_panel(self) -> QWidget:
        bar_width = max(10, self.image_size // 14)
        gradient = colorize(np.linspace(1.0, 0.0, 256)[:, None], 0.0, 1.0)
        bar = QPixmap.fromImage(rgb_to_qimage(gradient)).scaled(
            bar_width,
            self.image_size,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.bits_bar.setPixmap(bar)
        self.bits_bar.setFixedSize(bar_width, self.image_size)
        legend = QGridLayout()
        legend.setContentsMargins(0, 0, 0, 0)
        legend.setSpacing(4)
        legend.addWidget(self.bits_bar, 0, 0, 3, 1)
        legend.addWidget(self.bits_max_label, 0, 1, Qt.AlignmentFlag.AlignTop)
        legend.addWidget(self.bits_min_label, 2, 1, Qt.AlignmentFlag.AlignBottom)
        legend.setRowStretch(1, 1)
        bar_box = QWidget()
        bar_box.setLayout(legend)
        bar_box.setFixedHeight(self.image_size)

        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self._captioned(self.bits_label, self.bits_caption))
        layout.addWidget(bar_box, 0, Qt.AlignmentFlag.AlignTop)
        return row

    def clear(self) -> None:
        """Back to the empty state."""
        self.title_label.clear()
        self.image_label.clear()
        self.bits_label.clear()
        self.table.setRowCount(0)
        self._set_neighbours([], None, 256)
        self.bits_panel.hide()
        self.content.hide()
        self.placeholder.show()

    def show_sample(
        self,
        image: np.ndarray,
        levels: int,
        numbers: Mapping[str, str | float],
        neighbours: Sequence[np.ndarray] | None = None,
        per_pixel_bits: np.ndarray | None = None,
        title: str = "",
        *,
        neighbour_captions: Sequence[str] | None = None,
    ) -> None:
        """Show one sample (C,H,W) on `levels` levels; neighbours are real images on the same levels."""
        neighbours = list(neighbours or [])
        if neighbour_captions is not None and len(neighbour_captions) != len(neighbours):
            raise ValueError(f"{len(neighbour_captions)} neighbour captions for {len(neighbours)} neighbours")
        self.title_label.setText(title)
        self.title_label.setVisible(bool(title))
        self.image_label.setPixmap(scaled_pixmap(image, levels, self.image_size, self.devicePixelRatioF()))

        self.table.setRowCount(len(numbers))
        for row, (name, value) in enumerate(numbers.items()):
            self.table.setItem(row, 0, QTableWidgetItem(str(name)))
            item = QTableWidgetItem(format_value(value))
            item.setToolTip(format_value(value))  # a long value (a suggestion's reason) is elided in the cell
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, item)
        self.table.setCurrentItem(None)

        self._set_bits(per_pixel_bits)
        self._set_neighbours(neighbours, neighbour_captions, levels)
        self.placeholder.hide()
        self.content.show()

    def _set_bits(self, per_pixel_bits: np.ndarray | None) -> None:
        if per_pixel_bits is None:
            self.bits_label.clear()
            self.bits_panel.hide()
            return
        bits = bits_map(per_pixel_bits)
        finite = bits[np.isfinite(bits)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        heat = fit_scaled(rgb_to_qimage(colorize(bits, lo, hi)), round(self.image_size * self.devicePixelRatioF()))
        pixmap = QPixmap.fromImage(heat)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.bits_label.setPixmap(pixmap)
        self.bits_max_label.setText(f"{format_value(hi)} bits")
        self.bits_min_label.setText(f"{format_value(lo)} bits")
        self.bits_caption.setText(f"bits per pixel (total {format_value(float(finite.sum()))})")
        self.bits_panel.show()

    def _set_neighbours(self, neighbours: list[np.ndarray], captions: Sequence[str] | None, levels: int) -> None:
        while self.neighbours_row.count():
            item = self.neighbours_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.neighbour_labels = []
        for i, neighbour in enumerate(neighbours):
            label = QLabel()
            label.setPixmap(scaled_pixmap(neighbour, levels, self.neighbour_size, self.devicePixelRatioF()))
            label.setFixedSize(self.neighbour_size, self.neighbour_size)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.neighbour_labels.append(label)
            caption = QLabel(captions[i] if captions is not None else f"#{i + 1}")
            self.neighbours_row.addWidget(self._captioned(label, caption))
        self.neighbours_row.addStretch(1)
        self.neighbours_caption.setVisible(bool(neighbours))

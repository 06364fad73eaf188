"""A virtualized grid of sample thumbnails over numpy arrays, with flag badges and flag keys.

The model shows the rows of an index array: filtering swaps that array (one model reset), sorting
reorders it with numpy. Thumbnails are made lazily, only for tiles the view paints, and cached.
The grid never changes flags itself: key presses emit `flagRequested`, the app applies them (undo
stack, session file) and calls `set_flags`/`update_flags` to redraw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from . import flag_keys, theme
from .inspector import format_value
from .thumbnails import ThumbnailSource

Labels = frozenset[str]
# Flags in: one iterable of labels per sample, or an int bit array whose bit k means names[k].
FlagInput = Sequence[Iterable[str]] | np.ndarray | None
_NO_FLAGS: Labels = frozenset()
ID_COLUMN = "id"  # sort key: the dataset row id


def label_sets(flags: FlagInput, n: int, names: Sequence[str] | None = None) -> list[Labels]:
    """Flags as one frozenset of labels per sample."""
    if flags is None:
        return [_NO_FLAGS] * n
    if isinstance(flags, np.ndarray) and flags.dtype.kind in "iu":
        if names is None:
            raise ValueError("bit flags need the label names of their bits")
        if flags.shape != (n,):
            raise ValueError(f"expected {n} flag words, got shape {flags.shape}")
        codes, inverse = np.unique(flags, return_inverse=True)
        sets = [frozenset(name for k, name in enumerate(names) if int(code) >> k & 1) for code in codes]
        return [sets[i] for i in inverse.tolist()]
    result = [frozenset(labels) for labels in flags]
    if len(result) != n:
        raise ValueError(f"expected {n} flag sets, got {len(result)}")
    return result


class SampleListModel(QAbstractListModel):
    """Rows are dataset ids taken from an index array; per-sample numbers ride along as columns."""

    IdRole = Qt.ItemDataRole.UserRole + 1
    FlagsRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: ThumbnailSource | None = None
        self._columns: dict[str, np.ndarray] = {}
        self._flags: list[Labels] = []
        self._given = np.empty(0, dtype=np.int64)  # visible ids, in the order they were given
        self._rows = self._given  # visible ids, in display order
        self._position = np.empty(0, dtype=np.int64)  # id -> display row, -1 when hidden
        self._sort: tuple[str | None, bool] = (None, False)
        self.thumbnail_size = 64

    # -- data in -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return 0 if self._source is None else len(self._source)

    def set_data(
        self,
        images: np.ndarray,
        levels: int,
        columns: Mapping[str, np.ndarray] | None = None,
        flags: FlagInput = None,
        flag_names: Sequence[str] | None = None,
    ) -> None:
        """New images (N,C,H,W) on `levels` levels, all of them visible."""
        source = ThumbnailSource(images, levels)
        checked = self._checked_columns(columns or {}, len(images))
        flag_sets = label_sets(flags, len(images), flag_names)
        self.beginResetModel()
        self._source, self._columns, self._flags = source, checked, flag_sets
        if self._sort[0] not in (None, ID_COLUMN, *checked):
            self._sort = (None, False)
        self._given = np.arange(len(images), dtype=np.int64)
        self._reorder()
        self.endResetModel()

    @staticmethod
    def _checked_columns(columns: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        checked = {}
        for name, values in columns.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"column {name!r} has shape {values.shape}, expected ({n},)")
            checked[str(name)] = values
        return checked

    @property
    def columns(self) -> dict[str, np.ndarray]:
        return dict(self._columns)

    def set_column(self, name: str, values: np.ndarray) -> None:
        """Add or replace one per-sample column (numbers that arrive after the images)."""
        self._columns.update(self._checked_columns({name: values}, self.n))
        if self._sort[0] == name:
            self.beginResetModel()
            self._reorder()
            self.endResetModel()
        elif self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), [Qt.ItemDataRole.ToolTipRole])

    def flags_of(self, sample_id: int) -> Labels:
        return self._flags[sample_id]

    def set_flags(self, flags: FlagInput, names: Sequence[str] | None = None) -> None:
        self._flags = label_sets(flags, self.n, names)
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), [self.FlagsRole])

    def update_flags(self, ids: np.ndarray, flags: FlagInput, names: Sequence[str] | None = None) -> None:
        """New label sets for some ids (aligned with ids); repaints the visible ones."""
        ids = self.checked_ids(ids)
        for sample_id, labels in zip(ids.tolist(), label_sets(flags, len(ids), names), strict=True):
            self._flags[sample_id] = labels
        rows = self._position[ids]
        rows = rows[rows >= 0]
        if rows.size:
            roles = [self.FlagsRole, Qt.ItemDataRole.ToolTipRole]
            self.dataChanged.emit(self.index(int(rows.min())), self.index(int(rows.max())), roles)

    def checked_ids(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.n):
            raise ValueError(f"sample ids must lie in 0..{self.n - 1}")
        return ids

    # -- filter and order ----------------------------------------------------------------------
    def set_visible(self, ids: Iterable[int] | np.ndarray) -> None:
        """Show these distinct ids (in this order, unless a sort is set): one model reset."""
        ids = self.checked_ids(ids)
        self.beginResetModel()
        self._given = ids
        self._reorder()
        self.endResetModel()

    def sort_by(self, column: str | None, descending: bool = False) -> None:
        """Order the visible ids by a column (NaN last) or by id; None keeps the given order."""
        if column not in (None, ID_COLUMN, *self._columns):
            raise ValueError(f"no column {column!r} to sort by (have {', '.join(self._columns) or 'none'})")
        self.beginResetModel()
        self._sort = (column, descending)
        self._reorder()
        self.endResetModel()

    @property
    def sort_key(self) -> tuple[str | None, bool]:
        return self._sort

    def _reorder(self) -> None:
        column, descending = self._sort
        given = self._given
        if column is None:
            rows = given
        else:
            values = given if column == ID_COLUMN else self._columns[column][given]
            values = values.astype(np.float64)
            # Stable either way; NaN sorts last both ways because -NaN is NaN.
            rows = given[np.argsort(-values if descending else values, kind="stable")]
        self._rows = rows
        self._position = np.full(self.n, -1, dtype=np.int64)
        self._position[rows] = np.arange(len(rows), dtype=np.int64)

    # -- data out ------------------------------------------------------------------------------
    def visible_ids(self) -> np.ndarray:
        return self._rows.copy()

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Display rows of ids, -1 for hidden ones."""
        return self._position[self.checked_ids(ids)]

    def id_at(self, row: int) -> int:
        return int(self._rows[row])

    def ids_at(self, rows: np.ndarray) -> np.ndarray:
        return self._rows[rows]

    def pixmap(self, row: int, dpr: float = 1.0) -> QPixmap:
        return self._source.pixmap(self.id_at(row), self.thumbnail_size, dpr)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        sample_id = self.id_at(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return f"#{sample_id}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(sample_id)
        if role == self.IdRole:
            return sample_id
        if role == self.FlagsRole:
            return flag_keys.badge_order(self._flags[sample_id])
        return None

    def _tooltip(self, sample_id: int) -> str:
        labels = flag_keys.badge_order(self._flags[sample_id])
        head = f"<b>#{sample_id}</b>" + (f" &nbsp;flags: {escape(', '.join(labels))}" if labels else "")
        rows = "".join(
            f"<tr><td>{escape(name)}</td>"
            f"<td align='right'>&nbsp;{escape(format_value(values[sample_id]))}</td></tr>"
            for name, values in self._columns.items()
        )
        return f"{head}<table>{rows}</table>"


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a tile: the thumbnail, a selection/hover frame, and one coloured chip per flag."""

    PADDING = 4

    def tile_size(self, thumbnail_size: int) -> QSize:
        side = thumbnail_size + 2 * self.PADDING
        return QSize(side, side)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.tile_size(index.model().thumbnail_size)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model: SampleListModel = index.model()
        palette = option.palette
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected or hovered:
            # The selection has one colour in every view; hover is the palette's, faint.
            colour = theme.SELECTED if selected else theme.with_alpha(palette.color(QPalette.ColorRole.Highlight), 90)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)

        pixmap = model.pixmap(index.row(), painter.device().devicePixelRatioF())
        size = pixmap.deviceIndependentSize().toSize()
        image_rect = QRect(QPoint(0, 0), size)
        image_rect.moveCenter(rect.center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawPixmap(image_rect, pixmap)
        self._paint_badges(painter, image_rect, index.data(SampleListModel.FlagsRole) or [], model.thumbnail_size)
        painter.restore()

    @staticmethod
    def _paint_badges(painter: QPainter, image_rect: QRect, labels: list[str], thumbnail_size: int) -> None:
        if not labels:
            return
        height = int(min(18, max(12, thumbnail_size * 0.22)))
        font = QFont(painter.font())
        font.setPixelSize(height - 4)
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetrics(font)

        def width(letter: str) -> int:
            return max(height, metrics.horizontalAdvance(letter) + 6)

        chips = [flag_keys.badge(label) for label in labels]
        room = image_rect.width() - 4
        # Drop chips from the end until the rest, plus a "+k" chip for the dropped ones, fit.
        def needed(shown: int) -> int:
            more = width(f"+{len(chips) - shown}") if shown < len(chips) else 0
            return sum(width(c[0]) + 2 for c in chips[:shown]) + more

        shown = len(chips)
        while shown and needed(shown) > room:
            shown -= 1
        if shown < len(chips):
            chips = [*chips[:shown], (f"+{len(chips) - shown}", "#444444", False)]
        x, y = image_rect.left() + 2, image_rect.top() + 2
        for letter, colour, suggested in chips:
            chip = QRectF(x, y, width(letter), height)
            fill = QColor(colour)
            if suggested:
                painter.setBrush(QColor(20, 20, 20, 210))
                pen = QPen(fill.lighter(150), 1.5, Qt.PenStyle.DashLine)
                text = fill.lighter(175)
            else:
                painter.setBrush(fill)
                pen = QPen(QColor(0, 0, 0, 150), 1.0)
                text = QColor("white")
            painter.setPen(pen)
            painter.drawRoundedRect(chip.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
            painter.setPen(text)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, letter)
            x += chip.width() + 2


class _GridView(QListView):
    """The list view in icon mode; flag and inspect keys are forwarded to the owning SampleGrid."""

    def __init__(self, grid: SampleGrid) -> None:
        super().__init__(grid)
        self.mouse_pos: QPoint | None = None  # in viewport coordinates, None when outside
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_Hover)

    @property
    def _grid(self) -> SampleGrid:
        # Looked up, not stored: a Python reference cycle would leave the grid to the cyclic
        # garbage collector, which may delete the widget in the middle of another paint.
        return self.parent()

    def keyPressEvent(self, event) -> None:  # noqa: ANN001 (QKeyEvent)
        if self._grid.handle_key(event.key(), event.modifiers()):
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        """Typing letters flags samples; it never jumps by text."""

    def mouseMoveEvent(self, event) -> None:  # noqa: ANN001 (QMouseEvent)
        self.mouse_pos = event.position().toPoint()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: ANN001 (QEvent)
        self.mouse_pos = None
        super().leaveEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: ANN001 (QMouseEvent)
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            self._grid.inspectRequested.emit(self._grid.model.id_at(index.row()))
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: ANN001 (QWheelEvent)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            self._grid.set_thumbnail_size(self._grid.thumbnail_size() + round(steps * SampleGrid.ZOOM_STEP))
            event.accept()
        else:
            super().wheelEvent(event)


class SampleGrid(QWidget):
    """Thumbnails of a dataset with sort, zoom and flag keys; numpy in, dataset row ids out.

    Signals carry dataset row ids (not display rows). `selectionChanged` fires on the user's
    changes only, not on select_ids()/filters, so the app can mirror a shared selection without echo.
    """

    selectionChanged = Signal(object)  # np.ndarray of ids, ascending
    inspectRequested = Signal(int)
    flagRequested = Signal(str, bool, object)  # label, add, np.ndarray of ids
    thumbnailSizeChanged = Signal(int)

    MIN_SIZE, MAX_SIZE, ZOOM_STEP = 24, 256, 8

    def __init__(self, parent: QWidget | None = None, *, thumbnail_size: int = 64) -> None:
        super().__init__(parent)
        self.model = SampleListModel(self)
        self.delegate = ThumbnailDelegate(self)
        self.view = _GridView(self)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.model)
        self._selection = np.empty(0, dtype=np.int64)  # wanted selection, hidden ids included
        self._syncing = False
        # select_ids() may target a tile the batched layout has not placed yet: retry until it has.
        self._scroll_target: QPersistentModelIndex | None = None
        self._scroll_timer = QTimer(self)
        self._scroll_timer.setInterval(15)
        self._scroll_timer.timeout.connect(self._retry_scroll)

        self.sort_combo = QComboBox()
        self.sort_combo.setToolTip("Order of the tiles")
        self.descending_button = QToolButton()
        self.descending_button.setCheckable(True)
        self.descending_button.setToolTip("Descending order")
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(self.MIN_SIZE, self.MAX_SIZE)
        self.size_slider.setSingleStep(self.ZOOM_STEP)
        self.size_slider.setPageStep(4 * self.ZOOM_STEP)
        self.size_slider.setMaximumWidth(140)
        self.size_slider.setToolTip("Thumbnail size (Ctrl + wheel)")
        self.count_label = QLabel()
        self._flag_summary = ""

        self.toolbar = QWidget()
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Sort"))
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.descending_button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Size"))
        bar.addWidget(self.size_slider)
        bar.addStretch(1)
        bar.addWidget(self.count_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)

        self.model.modelAboutToBeReset.connect(self._before_reset)
        self.model.modelReset.connect(self._after_reset)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.sort_combo.activated.connect(self._on_sort_ui)
        self.descending_button.toggled.connect(self._on_sort_ui)
        self.size_slider.valueChanged.connect(self.set_thumbnail_size)

        self._sync_sort_ui()
        self._update_count()
        self.set_thumbnail_size(thumbnail_size)

    # -- data ----------------------------------------------------------------------------------
    def set_data(
        self,
        images: np.ndarray,
        levels: int,
        columns: Mapping[str, np.ndarray] | None = None,
        flags: FlagInput = None,
        flag_names: Sequence[str] | None = None,
    ) -> None:
        """Images (N,C,H,W) uint8/uint16 levels, per-sample columns name -> (N,), flags per sample
        (label sets, or an int bit array with flag_names). Clears the selection."""
        self._selection = np.empty(0, dtype=np.int64)
        self.model.set_data(images, levels, columns, flags, flag_names)
        self._sync_sort_ui()

    def set_column(self, name: str, values: np.ndarray) -> None:
        self.model.set_column(name, values)
        self._sync_sort_ui()

    def set_flags(self, flags: FlagInput, names: Sequence[str] | None = None) -> None:
        self.model.set_flags(flags, names)

    def update_flags(self, ids: np.ndarray, flags: FlagInput, names: Sequence[str] | None = None) -> None:
        self.model.update_flags(ids, flags, names)

    def set_visible(self, ids: Iterable[int] | np.ndarray) -> None:
        self.model.set_visible(ids)

    def show_all(self) -> None:
        self.model.set_visible(np.arange(self.model.n))

    def visible_ids(self) -> np.ndarray:
        return self.model.visible_ids()

    def sort_by(self, column: str | None, descending: bool = False) -> None:
        self.model.sort_by(column, descending)
        self._sync_sort_ui()

    # -- selection -----------------------------------------------------------------------------
    def selected_ids(self) -> np.ndarray:
        """Selected ids among the visible tiles, ascending."""
        rows = [np.arange(r.top(), r.bottom() + 1) for r in self.view.selectionModel().selection()]
        if not rows:
            return np.empty(0, dtype=np.int64)
        return np.unique(self.model.ids_at(np.concatenate(rows)))

    def select_ids(self, ids: Iterable[int] | np.ndarray, scroll: bool = True) -> None:
        """Select these ids (hidden ones are selected when a filter shows them) and scroll to the
        first in display order. Emits nothing."""
        self._selection = np.unique(self.model.checked_ids(ids))
        self._apply_selection(scroll)

    def clear_selection(self) -> None:
        self.select_ids([], scroll=False)

    def _apply_selection(self, scroll: bool) -> None:
        rows = self.model.rows_of(self._selection) if self._selection.size else np.empty(0, dtype=np.int64)
        rows = np.sort(rows[rows >= 0])
        selection = QItemSelection()
        if rows.size:
            breaks = np.flatnonzero(np.diff(rows) != 1)
            starts = np.concatenate(([rows[0]], rows[breaks + 1]))
            ends = np.concatenate((rows[breaks], [rows[-1]]))
            for start, end in zip(starts.tolist(), ends.tolist()):
                selection.select(self.model.index(start), self.model.index(end))
        self._syncing = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
            self.view.selectionModel().select(selection, flags)
            if rows.size:
                first = self.model.index(int(rows[0]))
                self.view.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
                if scroll:
                    self._scroll_target = QPersistentModelIndex(first)
                    self._retry_scroll()
        finally:
            self._syncing = False

    def _on_selection_changed(self) -> None:
        if self._syncing:
            return
        self._selection = self.selected_ids()
        self.selectionChanged.emit(self._selection.copy())

    def _before_reset(self) -> None:
        self._syncing = True

    def _after_reset(self) -> None:
        self._syncing = False
        self._apply_selection(scroll=False)
        self._update_count()

    # -- hover, keys, inspect ------------------------------------------------------------------
    def _retry_scroll(self) -> None:
        target = self._scroll_target
        if target is None or not target.isValid() or not self.view.isVisible():
            self._scroll_target = None
            self._scroll_timer.stop()
            return
        index = self.model.index(target.row())
        if self.view.visualRect(index).isValid():
            self.view.scrollTo(index)
            self._scroll_target = None
            self._scroll_timer.stop()
        elif not self._scroll_timer.isActive():
            self._scroll_timer.start()

    def hovered_id(self) -> int | None:
        """The id of the tile under the mouse now, if any."""
        pos = self.view.mouse_pos
        index = self.view.indexAt(pos) if pos is not None else QModelIndex()
        return self.model.id_at(index.row()) if index.isValid() else None

    def target_ids(self) -> np.ndarray:
        """What a flag key acts on: the selection, else the hovered tile, else nothing."""
        selected = self.selected_ids()
        hovered = self.hovered_id()
        if selected.size or hovered is None:
            return selected
        return np.array([hovered], dtype=np.int64)

    def handle_key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        """Flag, inspect and help keys; False for keys the view should handle itself."""
        action = flag_keys.flag_action(key, modifiers)
        if action is not None:
            ids = self.target_ids()
            if ids.size:
                self.flagRequested.emit(action[0], action[1], ids)
            return True
        if flag_keys.is_help_key(key):
            self.show_key_help()
            return True
        if key == Qt.Key.Key_Space and not modifiers & ~Qt.KeyboardModifier.KeypadModifier:
            target = self._inspect_target()
            if target is not None:
                self.inspectRequested.emit(target)
            return True
        return False

    def _inspect_target(self) -> int | None:
        current = self.view.currentIndex()
        if current.isValid() and self.view.selectionModel().isSelected(current):
            return self.model.id_at(current.row())
        hovered = self.hovered_id()
        if hovered is not None:
            return hovered
        selected = self.selected_ids()
        return int(selected[0]) if selected.size else None

    def show_key_help(self) -> None:
        """The `?` help as a tooltip over the grid."""
        QToolTip.showText(self.view.mapToGlobal(self.view.rect().center()), flag_keys.key_help_html(), self.view)

    # -- sort UI, zoom, count ------------------------------------------------------------------
    def _sync_sort_ui(self) -> None:
        column, descending = self.model.sort_key
        self.sort_combo.blockSignals(True)
        self.sort_combo.clear()
        self.sort_combo.addItem("given order", None)
        self.sort_combo.addItem(ID_COLUMN, ID_COLUMN)
        for name in self.model.columns:
            self.sort_combo.addItem(name, name)
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(column)))
        self.sort_combo.blockSignals(False)
        self.descending_button.blockSignals(True)
        self.descending_button.setChecked(descending)
        self.descending_button.setText("↓" if descending else "↑")
        self.descending_button.blockSignals(False)

    def _on_sort_ui(self) -> None:
        self.sort_by(self.sort_combo.currentData(), self.descending_button.isChecked())

    def thumbnail_size(self) -> int:
        return self.model.thumbnail_size

    def set_thumbnail_size(self, size: int) -> None:
        """Zoom: thumbnails of size x size pixels (crisp nearest-neighbour upscaling)."""
        size = int(min(self.MAX_SIZE, max(self.MIN_SIZE, size)))
        changed = size != self.model.thumbnail_size
        self.model.thumbnail_size = size
        tile = self.delegate.tile_size(size)
        self.view.setGridSize(tile + QSize(4, 4))
        self.size_slider.blockSignals(True)
        self.size_slider.setValue(size)
        self.size_slider.blockSignals(False)
        self.view.viewport().update()
        if changed:
            self.thumbnailSizeChanged.emit(size)

    def set_flag_summary(self, text: str) -> None:
        """A line on the flags (e.g. '12 bad · 3 memorized'), shown beside the tile count."""
        self._flag_summary = text
        self._update_count()

    def _update_count(self) -> None:
        flags = f"{self._flag_summary}   ·   " if self._flag_summary else ""
        self.count_label.setText(f"{flags}{self.model.rowCount():,} / {self.model.n:,}")

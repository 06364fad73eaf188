"""The GenLoupe window: sample grid in the middle, linked plots and panels in docks around it."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from genloupe.app.comparison_presenter import ComparisonPresenter
from genloupe.app.controller import Controller, SessionView
from genloupe.app.demo import DEMO_MODELS, DEMO_REFERENCE, demo_model_path
from genloupe.app.feature_choice import FeatureChoice
from genloupe.app.flag_bits import NAMES as FLAG_NAMES
from genloupe.app.jobs import Jobs
from genloupe.app.linking import ViewLinker
from genloupe.app.metric_rows import metric_rows
from genloupe.app.settings import Settings
from genloupe.app.suggestion_view import SuggestionPanel, status_text
from genloupe.app.view_data import QUALITY_AXES, scatter_request
from genloupe.app.wording import INSIDE, NUMBER_NAMES, bits_caption
from genloupe.engine.errors import GenLoupeError
from genloupe.widgets import theme
from genloupe.widgets.flag_keys import flag_summary
from genloupe.widgets.histogram import HistogramView
from genloupe.widgets.inspector import Inspector
from genloupe.widgets.jobs_panel import JobsPanel
from genloupe.widgets.manifold_view import ManifoldView
from genloupe.widgets.metrics_panel import MetricsPanel
from genloupe.widgets.quality_scatter import QualityScatter
from genloupe.widgets.sample_grid import SampleGrid

SESSION_SUFFIX = ".genloupe"
FLAG_FILTERS = ("all samples", "flagged bad", "flagged memorized", "flagged good", "suggested", "unflagged")
JOB_TITLES = {"evaluate": "Evaluate model", "session": "Open session", "engine": "Load the engine"}


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller, settings: Settings) -> None:
        super().__init__()
        self.controller, self.settings = controller, settings
        self.view_data: SessionView | None = None
        self.flag_text = ""  # the flag counts every view shows
        self.setWindowTitle("GenLoupe")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        theme.configure_pyqtgraph()

        self.grid = SampleGrid()
        self.reference_grid = SampleGrid(thumbnail_size=48)
        self.histogram = HistogramView()
        self.manifold = ManifoldView()
        self.scatter = QualityScatter()
        self.metrics = MetricsPanel()
        self.inspector = Inspector()
        self.jobs_panel = JobsPanel()
        self.suggestion_panel = SuggestionPanel()
        self.quality_axis = QComboBox()
        self.quality_axis.addItems(list(QUALITY_AXES))
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, "GenLoupe", "", QMessageBox.StandardButton.Ok, self)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)

        self.setCentralWidget(self.grid)
        self.docks = {
            "histogram": self._dock("Likelihood histograms", self.histogram, Qt.DockWidgetArea.RightDockWidgetArea),
            "manifold": self._dock("Precision/recall manifold", self.manifold, Qt.DockWidgetArea.RightDockWidgetArea),
            "scatter": self._dock("Likelihood against quality", self._with_header(self.quality_axis, self.scatter),
                                  Qt.DockWidgetArea.RightDockWidgetArea),
            "metrics": self._dock("Metrics", self.metrics, Qt.DockWidgetArea.BottomDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector, Qt.DockWidgetArea.LeftDockWidgetArea),
            "reference": self._dock("Held-out real images", self.reference_grid, Qt.DockWidgetArea.LeftDockWidgetArea),
            "jobs": self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.BottomDockWidgetArea),
            "suggestions": self._dock("Suggestions", self.suggestion_panel, Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["metrics"], self.docks["suggestions"])
        self.tabifyDockWidget(self.docks["manifold"], self.docks["scatter"])
        self.tabifyDockWidget(self.docks["inspector"], self.docks["reference"])
        self.docks["inspector"].raise_()
        self.docks["manifold"].raise_()
        self.docks["metrics"].raise_()
        self.comparison = ComparisonPresenter(self)  # models side by side, checkpoints over training
        self.docks.update(self.comparison.docks)
        self.resize(1600, 1000)
        self.resizeDocks([self.docks["inspector"]], [270], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["histogram"]], [640], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["metrics"]], [250], Qt.Orientation.Vertical)
        self.metrics.setWordWrap(False)  # one line per metric: the whole table fits the dock

        self.linker = ViewLinker(controller.selection, self.grid, self.histogram, self.manifold, self.scatter)
        self._build_actions()
        self._connect()
        self._restore_layout()
        self._update_status()

    # -- construction ----------------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    @staticmethod
    def _with_header(header: QWidget, body: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(header)
        layout.addWidget(body, 1)
        return box

    def _action(self, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut if isinstance(shortcut, QKeySequence.StandardKey) else QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip or text)
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Open checkpoint…", self.choose_checkpoint, QKeySequence.StandardKey.Open))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self._action("&Reference data…", self.choose_reference, "Ctrl+R"))
        file_menu.addAction(self._action("Embedded &digits as reference", lambda: self.controller.set_reference(DEMO_REFERENCE)))
        file_menu.addSeparator()
        file_menu.addAction(self._action("Open &session…", self.choose_session, "Ctrl+Shift+O"))
        file_menu.addAction(self._action("Save session &as…", self.save_session_as, QKeySequence.StandardKey.SaveAs))
        file_menu.addAction(self._action("&Export report…", self.export_report, "Ctrl+E"))
        file_menu.addSeparator()
        file_menu.addActions(self.comparison.actions)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        edit = menu.addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.controller.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", self.controller.redo, "Ctrl+Shift+Z")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        self.suggest_action = self._action("&Suggest flags", self.suggest, "Ctrl+G",
                                           "Propose likely-but-bad and memorized samples for review")
        self.confirm_action = self._action("&Confirm suggestions on selection", self.confirm, "Ctrl+Return")
        self.note_action = self._action("&Note…", self.edit_note, "N", "Write a note on the selected or hovered sample")
        self.clear_action = self._action("C&lear selection and filters", self.linker.clear, "Esc")
        edit.addActions([self.suggest_action, self.confirm_action, self.note_action, self.clear_action])

        view = menu.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("Flag &keys", self.grid.show_key_help, "?"))

        bar = QToolBar("Main")
        bar.setObjectName("main toolbar")
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Model "))
        self.model_combo = QComboBox()
        self.model_combo.addItems(list(DEMO_MODELS))
        self.model_combo.setToolTip("Demo checkpoints; File ▸ Open checkpoint for your own")
        self.model_combo.setPlaceholderText("no model open")  # shown after a first evaluation fails
        self.model_combo.activated.connect(self._open_model_choice)
        bar.addWidget(self.model_combo)
        bar.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItems(device_choices())
        self.device_combo.currentTextChanged.connect(self._set_device)
        bar.addWidget(self.device_combo)
        bar.addWidget(QLabel(" Features "))
        self.feature_choice = FeatureChoice(self.controller, self._ask_trust)
        bar.addWidget(self.feature_choice)
        bar.addWidget(self.feature_choice.note)
        bar.addWidget(QLabel(" Show "))
        self.flag_filter = QComboBox()
        self.flag_filter.addItems(list(FLAG_FILTERS))
        self.flag_filter.currentTextChanged.connect(self._apply_flag_filter)
        bar.addWidget(self.flag_filter)
        bar.addSeparator()
        bar.addActions([self.suggest_action, self.clear_action])
        self.addAction(self.note_action)

    def _connect(self) -> None:
        c, jobs = self.controller, self.controller.jobs
        c.samplesArrived.connect(self._show_samples)
        c.engineLoaded.connect(self._add_gpu_devices)
        c.sessionLoaded.connect(self._show_session)
        c.flagsChanged.connect(self._refresh_flags)
        c.undoStateChanged.connect(self._update_undo)
        c.failed.connect(self.show_error)
        c.warned.connect(self.show_error)
        c.selection.observers.append(lambda selection: self._update_status())
        jobs.started.connect(lambda kind: self.jobs_panel.start_job(kind, JOB_TITLES.get(kind, kind)))
        jobs.progressed.connect(self.jobs_panel.update_job)
        jobs.finished.connect(lambda kind, result: self.jobs_panel.finish_job(kind))
        jobs.failed.connect(self.jobs_panel.fail_job)
        jobs.cancelled.connect(self.jobs_panel.cancelled_job)
        jobs.cancelled.connect(self._evaluation_stopped)
        jobs.failed.connect(lambda kind, message: self._evaluation_stopped(kind))
        self.jobs_panel.cancelRequested.connect(self.controller.cancel)
        self.grid.flagRequested.connect(self.flag)
        self.grid.inspectRequested.connect(self.inspect)
        self.quality_axis.currentTextChanged.connect(lambda text: self._show_scatter())

    # -- showing results -----------------------------------------------------------------------------------

    def _show_samples(self, samples: np.ndarray, levels: int) -> None:
        """Samples arrive before their numbers: show them at once, mark the metrics stale."""
        self.view_data = None
        self.linker.reset()  # the old brush, filters, selection and numbers mean nothing for the new samples
        self.grid.set_data(samples, levels)
        self.metrics.mark_stale()
        self.inspector.clear()
        self._update_status()

    def _show_session(self, view: SessionView) -> None:
        self.view_data = view
        self._show_model_name(view.run.get("checkpoint", ""))
        columns = view.sample_columns
        self.grid.set_data(view.samples, view.levels, columns, self.controller.flags.words, FLAG_NAMES)
        if "log_px" in columns:
            self.grid.sort_by("log_px", descending=True)
        self.linker.reset(sample_bpd=columns.get("bpd"))
        QTimer.singleShot(0, self, lambda: self._draw_plots_in_turns(view, [self._show_histogram, self._show_manifold,
                                                                           self._show_scatter]))
        self.metrics.set_metrics(metric_rows(view.metrics))
        self.reference_grid.set_data(view.reference, view.levels, view.reference_columns)
        if "log_px" in view.reference_columns:
            self.reference_grid.sort_by("log_px", descending=True)
        self.inspector.clear()
        name = view.run.get("model", {}).get("name", "model")
        self.setWindowTitle(f"GenLoupe — {name}{' (read-only)' if view.read_only else ''}")
        self._apply_flag_filter(self.flag_filter.currentText())
        self._show_flag_counts()
        self._update_status()
        if view.run.get("warnings"):  # what the probes and the evaluation found worth saying (checkpoints/probes.py)
            self.statusBar().showMessage("warning: " + "; ".join(view.run["warnings"]), 30_000)

    def _draw_plots_in_turns(self, view: SessionView, steps: list) -> None:
        """Draw one plot per turn of the event loop, so that input is answered between them.

        A plot's data and its scene's layout take 10-40 ms each on two slow cores; all at once they held
        the event loop for 70-180 ms (tests/bench/bench_window.py). A newer session drops what is pending.
        """
        if steps and self.view_data is view:
            steps[0]()
            QTimer.singleShot(0, self, lambda: self._draw_plots_in_turns(view, steps[1:]))

    def _evaluation_stopped(self, kind: str) -> None:
        """A cancelled or failed evaluation leaves the last good state: the open session again, or nothing."""
        if kind != "evaluate":
            return
        view = self.controller.view
        if view is None:
            self._show_nothing()
        elif self.view_data is None:  # its samples were shown already
            self.linker.clear()
            self._show_session(view)
        else:
            self._show_model_name(view.run.get("checkpoint", ""))  # the box may name the model that failed

    def _show_nothing(self) -> None:
        """No session open: no samples, no numbers, and the model box names no model."""
        self.view_data = None
        self.linker.reset()
        self.grid.set_data(np.zeros((0, 1, 1, 1), np.uint8), 2)
        self.metrics.set_metrics([])
        self.inspector.clear()
        self.model_combo.setCurrentIndex(-1)
        self._update_status()

    def _show_model_name(self, address: str) -> None:
        """The model box names what is open: a demo entry, or the file's name added to the list."""
        demo = {demo_model_path(name): name for name in DEMO_MODELS}
        name = demo.get(address) or Path(address.partition("#")[0]).name + (f"#{address.partition('#')[2]}" if "#" in address else "")
        if self.model_combo.findText(name) < 0:
            self.model_combo.addItem(name, address)
        self.model_combo.setCurrentText(name)

    def _open_model_choice(self, index: int) -> None:
        address = self.model_combo.itemData(index) or demo_model_path(self.model_combo.itemText(index))
        self.open_path(address)  # an adapter is asked about (or found trusted) again

    def _show_histogram(self) -> None:
        prepared = self.view_data.prepared.histogram
        if prepared.data is None:
            self.histogram.set_sets({}, convention=prepared.convention)
            return
        grey = {name: theme.EXTRA[3] for name in prepared.context}  # context, not compared
        self.histogram.set_prepared(prepared.data, convention=prepared.convention, colours=grey)

    def _show_manifold(self) -> None:
        if self.view_data.prepared.manifold is not None:
            self.manifold.set_prepared(self.view_data.prepared.manifold)

    def _show_scatter(self, keep_view: bool = False) -> None:
        """The scatter for the chosen quality axis; after a flag change its layers are split again here."""
        view = self.view_data
        if view is None:
            return
        axis = self.quality_axis.currentText()
        prepared = view.prepared.scatter.get(axis)
        if prepared is None:
            return
        if keep_view:  # flags changed: same points and correlation, new flagged layer
            prepared = scatter_request(view, axis, self.controller.flags.flagged(), (prepared.rho, prepared.n))()
        self.scatter.set_prepared(prepared, quality_label=axis, keep_view=keep_view)

    def _refresh_flags(self, ids: np.ndarray) -> None:
        flags = self.controller.flags
        self.grid.update_flags(ids, flags.words[ids], FLAG_NAMES)
        self._show_scatter(keep_view=True)
        self._show_flag_counts()
        self._apply_flag_filter(self.flag_filter.currentText())
        self._update_status()

    def _apply_flag_filter(self, text: str) -> None:
        if self.view_data is None:
            return
        flags = self.controller.flags
        if text == FLAG_FILTERS[0]:
            self.linker.set_flag_filter(None)
        elif text == "unflagged":
            self.linker.set_flag_filter(flags.unflagged())
        elif text == "suggested":
            self.linker.set_flag_filter(flags.suggested())
        else:
            self.linker.set_flag_filter(flags.with_label(text.split()[-1]))

    def inspect(self, idx: int) -> None:
        view = self.view_data
        if view is None or not 0 <= idx < len(view.samples):
            return
        s = view.sample_columns
        numbers: dict[str, str | float] = {NUMBER_NAMES[name]: float(s[name][idx]) for name in NUMBER_NAMES if name in s}
        if "in_manifold" in s:
            numbers[INSIDE] = "yes" if s["in_manifold"][idx] else "no"
        if view.run.get("scored_with"):
            numbers["likelihood scored under"] = Path(view.run["scored_with"]).name
        flags = self.controller.flags.labels(idx)
        numbers["flags"] = ", ".join(sorted(flags)) or "none"
        for n, reason in enumerate(self.controller.flag_reasons(idx)):
            numbers["why" if n == 0 else f"why ({n + 1})"] = reason
        if idx in view.notes:
            numbers["note"] = view.notes[idx]
        neighbours, captions = [], []
        if "nn_id" in s:
            nn = int(s["nn_id"][idx])
            neighbours.append(view.reference[nn])
            captions.append(f"held-out #{nn}, d={s['nn_distance'][idx]:.3g}")
        if "train_nn_id" in s and view.training is not None:  # a copy of a training image shows here
            nn = int(s["train_nn_id"][idx])
            neighbours.append(view.training[nn])
            captions.append(f"training #{nn}, d={s['train_nn_distance'][idx]:.3g}")
        bits = view.sample_bits[idx] if view.sample_bits is not None else None
        self.inspector.show_sample(view.samples[idx], view.levels, numbers, neighbours, bits, f"sample {idx}",
                                   neighbour_captions=captions)
        if bits is not None and "bpd" in s:  # what the map sums to, beside the per-sample number
            self.inspector.bits_caption.setWordWrap(True)
            self.inspector.bits_caption.setText(bits_caption(bits, float(s["bpd"][idx]), view.run.get("likelihood_convention")))
        self.docks["inspector"].show()
        self.docks["inspector"].raise_()

    # -- user actions --------------------------------------------------------------------------------------

    def open_path(self, path: str) -> None:
        """Open a checkpoint or a session; adapters (.py) run code, so they need the person's trust."""
        if path.endswith(SESSION_SUFFIX):
            self.controller.open_session(path)
            return
        if self.comparison.handle_drop([path]):  # a comparison file or a folder of checkpoints
            return
        trust = False
        if _runs_code(path.partition("#")[0]):
            trust = self._ask_trust(path.partition("#")[0])
            if not trust:
                return
        self.controller.open_model(path, trust_code=trust)

    def _ask_trust(self, path: str) -> bool:
        from genloupe.engine.checkpoints import content_hash

        try:
            digest = content_hash(path)
        except (GenLoupeError, OSError) as error:
            self.show_error(str(error))
            return False
        if digest in self.settings.trusted_hashes():
            return True
        answer = QMessageBox.question(
            self, "Run this adapter?",
            f"Opening {Path(path).name} runs code stored in it, with your permissions.\n"
            "Open it only if you trust where it came from. Trust this file (remembered by its content hash)?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.settings.trust(digest)
            return True
        return False

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open checkpoint", "",
            "Models (*.pt *.safetensors *.zip *.pt2 *.onnx *.npz *.py);;All files (*)",
        )
        if path:
            self.open_path(path)

    def choose_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference data (cancel to pick a folder)", "",
                                              "Arrays and images (*.npy *.npz *.gz *.bin *ubyte*);;All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "Reference image folder")
        if path:
            self.controller.set_reference(path)

    def choose_session(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", f"GenLoupe sessions (*{SESSION_SUFFIX})")
        if path:
            self.controller.open_session(path)

    def save_session_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session as", "", f"GenLoupe sessions (*{SESSION_SUFFIX})")
        if path:
            try:
                self.controller.save_session_as(path)
            except GenLoupeError as error:
                self.show_error(str(error))

    def export_report(self) -> None:
        if self.controller.session is None:
            self.show_error("nothing to report yet: open a model first")
            return
        folder = QFileDialog.getExistingDirectory(self, "Export report to folder")
        if folder:
            from genloupe.app.report import export_report

            try:
                written = export_report(self.controller.session, Path(folder))
            except GenLoupeError as error:
                self.show_error(str(error))
                return
            self.statusBar().showMessage(f"report written: {', '.join(p.name for p in written)}", 10_000)

    def suggest(self) -> None:
        found = self.controller.suggest()
        self.suggestion_panel.show_found(found)
        self.docks["suggestions"].raise_()
        self.statusBar().showMessage(status_text(found), 10_000)

    def flag(self, label: str, add: bool, ids: np.ndarray) -> None:
        if self._showing_session():
            self.controller.flag(label, add, ids)

    def confirm(self) -> None:
        if self._showing_session():
            self.controller.confirm_suggestions(self.grid.target_ids())

    def _showing_session(self) -> bool:
        """Flags refer to the open session's samples: not to a new run's, shown before it is saved."""
        if self.view_data is None:
            self.statusBar().showMessage("flags wait until this evaluation is finished and saved", 5000)
            return False
        return True

    def edit_note(self) -> None:
        ids = self.grid.target_ids()
        if self.view_data is None or len(ids) != 1:
            self.statusBar().showMessage("select (or hover) exactly one sample to write a note", 5000)
            return
        idx = int(ids[0])
        text, ok = QInputDialog.getText(self, f"Note on sample {idx}", "Note:", text=self.view_data.notes.get(idx, ""))
        if ok:
            self.controller.set_note(idx, text)

    def show_error(self, message: str) -> None:
        """Errors are one line in a window-modal box; the window keeps working behind it."""
        self.error_box.setText(message)
        self.error_box.open()

    def _add_gpu_devices(self) -> None:
        import torch  # imported by the engine's worker already

        for i in range(torch.cuda.device_count()):
            self.device_combo.addItem(f"cuda:{i}")

    def _set_device(self, text: str) -> None:
        self.controller.device = text

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))

    def _update_undo(self) -> None:
        editor = self.controller.editor
        self.undo_action.setEnabled(bool(editor and editor.can_undo()))
        self.redo_action.setEnabled(bool(editor and editor.can_redo()))
        self.undo_action.setText(f"&Undo {editor.undo_text()}" if editor and editor.can_undo() else "&Undo")
        self.redo_action.setText(f"&Redo {editor.redo_text()}" if editor and editor.can_redo() else "&Redo")

    def _show_flag_counts(self) -> None:
        """Flag counts in every view, from the flag bits (equal to the session file after every command)."""
        self.flag_text = flag_summary(self.controller.flags.counts() if self.controller.session is not None else {})
        for view in (self.grid, self.histogram, self.manifold, self.scatter):
            view.set_flag_summary(self.flag_text)

    def _update_status(self) -> None:
        selection = self.controller.selection
        parts = [f"{len(self.grid.visible_ids())} / {self.grid.model.n} shown"]
        if len(selection):
            parts.append(f"{len(selection)} selected ({selection.description})")
        if self.controller.session is not None:
            parts.append(f"flags: {self.flag_text or 'none'}")
        self.status.setText("   ·   ".join(parts))

    # -- layout, drag and drop, closing ------------------------------------------------------------------

    def _restore_layout(self) -> None:
        state = self.settings.value("window/state")
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt naming)
        if self.comparison.handle_drop([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]):
            return  # several models, a folder of checkpoints or a comparison file
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                break

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001 (Qt naming)
        self.settings.set_value("window/state", self.saveState())
        self.settings.set_value("window/geometry", self.saveGeometry())
        self.settings.sync()
        self.controller.close()
        self.comparison.close()
        super().closeEvent(event)


def _runs_code(path: str) -> bool:
    """Whether opening ``path`` would run code from the file (decided by content, not suffix)."""
    from genloupe.engine.checkpoints import CODE_FORMATS, format_of

    try:
        return format_of(path) in CODE_FORMATS
    except (GenLoupeError, OSError):
        return False  # opening it will report the problem


def device_choices() -> list[str]:
    """The devices known before the engine is imported; GPUs are added once it is (``_add_gpu_devices``)."""
    return ["auto", "cpu"]


def build_window(settings: Settings | None = None) -> MainWindow:
    settings = settings or Settings()
    jobs = Jobs()
    controller = Controller(jobs, settings)
    window = MainWindow(controller, settings)
    jobs.setParent(window)
    controller.setParent(window)
    return window


def run_app(path: str | None = None, reference: str | None = None, train_indices: str | None = None) -> int:
    """Open the window: on ``path`` (checkpoint or session) if given, else on the bundled demo.

    ``train_indices`` declares the reference images the model learnt from (held-out, train-split and
    memorization views follow it; see engine/data/split_file.py)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GenLoupe")
    window = build_window()
    if reference:
        window.controller.set_reference(reference)  # with the features remembered for it; nothing open yet
    window.controller.train_indices = train_indices
    # Everything imported so far lives as long as the program: keep it out of the garbage collector's
    # full passes, which otherwise stall the event loop for 100-250 ms while a job imports and allocates.
    gc.freeze()
    window.show()
    start = (lambda: window.open_path(path)) if path else (
        lambda: window.controller.open_model(demo_model_path(next(iter(DEMO_MODELS)))))
    QTimer.singleShot(0, start)
    QTimer.singleShot(0, window.controller.load_engine)  # unless the evaluation just started does it
    return app.exec()

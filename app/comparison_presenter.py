"""The comparison in the window: its docks, its menu actions, one background job per model.

A comparison is a session of sessions: each model added is evaluated in its own job (kind
``compare <model>``, so evaluating a second model never cancels the first), written to its own
session file, and recorded in the comparison file in the GUI thread when its job finishes.
Clicking a model opens its session in the main views, where its flags live.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog

from genloupe.app.comparison_model import COLUMNS, ComparisonData, gather, metric_name
from genloupe.app.demo import DEMO_MODELS, demo_model_path
from genloupe.app.settings import sessions_dir
from genloupe.engine.comparison import (
    COMPARISON_SUFFIX, NOISE_WEIGHTS, Comparison, ComparisonSettings, Member, MemberSpec, evaluate_member, is_comparison,
    noise_sweep_specs, open_reference,
)
from genloupe.engine.comparison.rankings import BETTER, QUALITY_METRICS
from genloupe.engine.comparison.trajectory import checkpoint_files, is_checkpoint_folder
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.progress import TaskProgress
from genloupe.widgets.comparison_view import Column, ComparisonView, ModelRow, RankingPair
from genloupe.widgets.trajectory_view import Series, TrajectoryView

if TYPE_CHECKING:
    from genloupe.app.main_window import MainWindow

JOB_PREFIX = "compare "
SWEEP_DEMO = "autoregressive"  # the demo model the one-step noise-mixture sweep mixes with noise
TRAJECTORY_QUALITY = ("precision", "fid")
# The sweep measures quality on raw pixels: the embedded digits classifier maps uniform noise into the digits'
# own feature manifold (about 70% of pure noise images count as precise there), raw pixels place none of it there.
SWEEP_FEATURES = "pixels"
FLOATING_SIZE = (1300, 800)


class ComparisonPresenter(QObject):
    """Owns the comparison file, the comparison and trajectory docks, and the jobs that fill them."""

    changed = Signal(object)  # ComparisonData, after every member added or comparison opened

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.comparison: Comparison | None = None
        self.data: ComparisonData | None = None
        self.pending: dict[str, tuple[Path, MemberSpec]] = {}  # job kind -> (comparison file, spec)
        self._floated = False
        self.view = ComparisonView()
        self.trajectory = TrajectoryView()
        self.docks = {"comparison": self._dock("Model comparison", self.view),
                      "trajectory": self._dock("Checkpoints over training", self.trajectory)}
        window.tabifyDockWidget(self.docks["comparison"], self.docks["trajectory"])
        for dock in self.docks.values():
            dock.hide()
        self.actions = [
            self._action("Add &model to comparison…", self.choose_models),
            self._action("Open checkpoint &folder as trajectory…", self.choose_folder),
            self._action("Open co&mparison…", self.choose_comparison),
            self._action("&Noise mixture sweep of the open model", self.sweep_open_model),
            self._action("Demo: noise mixture s&weep", self.sweep_demo),
            self._action("Export comparison re&port…", self.choose_report_folder),
        ]
        self.view.modelActivated.connect(self.open_member)
        self.trajectory.checkpointActivated.connect(self.open_member)
        jobs = self.controller.jobs
        jobs.finished.connect(self._on_finished)
        jobs.failed.connect(self._on_stopped)
        jobs.cancelled.connect(self._on_stopped)

    def _dock(self, title: str, widget) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        return dock

    def _action(self, text: str, slot) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(slot)
        return action

    # -- starting work ---------------------------------------------------------------------------------

    def add_models(self, addresses: list[str], *, noise_weights: tuple[float, ...] = (0.0,)) -> int:
        """Evaluate each address (folders: every checkpoint in them) as a new member; returns the jobs started."""
        specs = []
        for address in addresses:
            files = [str(p) for p in checkpoint_files(address)] if is_checkpoint_folder(address) else [address]
            specs += [spec for file in files for spec in noise_sweep_specs(file, noise_weights)]
        comparison = self._current_or_new()
        if comparison is None:
            return 0
        known = {(m.address, m.noise_weight) for m in comparison.members()}
        known |= {(spec.address, spec.noise_weight) for path, spec in self.pending.values() if path == comparison.path}
        started = 0
        for spec in specs:
            if (spec.address, spec.noise_weight) in known:
                continue
            known.add((spec.address, spec.noise_weight))
            self._start(comparison, spec)
            started += 1
        self._show_docks()
        return started

    def new_comparison(self, features: str | None = None) -> Comparison | None:
        """A fresh comparison file in the sessions folder, with the window's sample count, device, reference and
        features (the Features box) unless ``features`` says otherwise."""
        settings = ComparisonSettings(reference=self.controller.reference_source, n_samples=self.controller.n_samples,
                                      device=self.controller.device, features=features or self.controller.features)
        path = sessions_dir() / f"comparison-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}{COMPARISON_SUFFIX}"
        try:
            return self._switch(Comparison.create(path, settings))
        except GenLoupeError as error:
            self.window.show_error(str(error))
            return None

    def open_comparison(self, path: str | Path) -> None:
        try:
            self._switch(Comparison.open(path))
        except GenLoupeError as error:
            self.window.show_error(str(error))
            return
        self._show_docks()

    def _current_or_new(self) -> Comparison | None:
        return self.comparison if self.comparison is not None else self.new_comparison()

    def _switch(self, comparison: Comparison) -> Comparison:
        if self.comparison is not None:
            self.comparison.close()
        self.comparison = comparison
        self.refresh()
        return comparison

    def _start(self, comparison: Comparison, spec: MemberSpec) -> None:
        kind = f"{JOB_PREFIX}{spec.name}"
        while self.controller.jobs.is_running(kind):  # another file of the same name: its own job
            kind += "'"
        session_path = comparison.new_session_path(spec.name)
        settings = replace(comparison.settings, device=self.controller.device)  # the window's device, now

        def task(progress: TaskProgress) -> Member:
            reference, train = open_reference(settings)
            return evaluate_member(spec, settings, reference, train, session_path, progress)

        self.pending[kind] = (comparison.path, spec)
        self.controller.jobs.start(kind, task)

    # -- results ------------------------------------------------------------------------------------------

    def _on_finished(self, kind: str, member: object) -> None:
        if kind not in self.pending:
            return
        path, _ = self.pending.pop(kind)
        try:
            if self.comparison is not None and self.comparison.path == path:
                self.comparison.add_member(member)
            else:  # the window moved on to another comparison: record it where it belongs
                with Comparison.open(path) as elsewhere:
                    elsewhere.add_member(member)
        except GenLoupeError as error:
            self.window.show_error(str(error))
        self.refresh()

    def _on_stopped(self, kind: str, *message: object) -> None:
        self.pending.pop(kind, None)

    def refresh(self) -> None:
        if self.comparison is None:
            return
        self.data = gather(self.comparison)
        rows, columns, rankings = view_rows(self.data)
        self.view.set_data(rows, columns, rankings, notes_text(self.data))
        show_trajectory(self.trajectory, self.data)
        self.changed.emit(self.data)

    def close(self) -> None:
        """After the jobs stopped (the controller waits for them): close the comparison file."""
        if self.comparison is not None:
            self.comparison.close()
            self.comparison = None

    def open_member(self, position: int) -> None:
        """Open a member's session in the main views (its per-sample table, its flags)."""
        if self.data is None or not 0 <= position < len(self.data.members):
            return
        self.controller.open_session(self.data.members[position].session)

    def _show_docks(self) -> None:
        """The comparison needs room: the first time, its docks open as a window of their own (dockable)."""
        for dock in self.docks.values():
            if not dock.isVisible() and not self._floated:
                dock.setFloating(True)
                dock.resize(*FLOATING_SIZE)
        self._floated = True
        self.docks["comparison"].show()
        self.docks["comparison"].raise_()
        if self.data is not None and self.data.trajectory is not None:
            self.docks["trajectory"].show()

    # -- menu actions ----------------------------------------------------------------------------------------

    def choose_models(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Add models to the comparison", "",
                                                "Models (*.pt *.safetensors *.zip *.pt2 *.onnx *.npz);;All files (*)")
        if paths:
            self.add_models(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder of checkpoints")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str) -> int:
        """A new comparison of every checkpoint in ``folder``: its trajectory over training."""
        if self.new_comparison() is None:
            return 0
        started = self.add_models([folder])
        self._show_docks()
        self.docks["trajectory"].show()
        self.docks["trajectory"].raise_()
        return started

    def choose_comparison(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open comparison", "", f"GenLoupe comparisons (*{COMPARISON_SUFFIX})")
        if path:
            self.open_comparison(path)

    def sweep_open_model(self) -> int:
        address = self.controller.model_address
        if not address:
            self.window.show_error("open a model with a likelihood first (or use Demo: noise mixture sweep)")
            return 0
        return self.sweep(address)

    def sweep_demo(self) -> int:
        return self.sweep(demo_model_path(SWEEP_DEMO if SWEEP_DEMO in DEMO_MODELS else next(iter(DEMO_MODELS))))

    def sweep(self, address: str) -> int:
        """A new comparison: the model and its mixtures with noise at w = 0.5, 0.9, 0.99 (quality on pixels)."""
        if self.new_comparison(SWEEP_FEATURES) is None:
            return 0
        return self.add_models([address], noise_weights=NOISE_WEIGHTS)

    def choose_report_folder(self) -> None:
        if self.comparison is None or not self.comparison.members():
            self.window.show_error("nothing to report yet: add models to a comparison first")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Export comparison report to folder")
        if folder:
            self.export_report(Path(folder))

    def export_report(self, folder: Path) -> list[Path]:
        from genloupe.app.report.comparison import export_comparison_report

        try:
            written = export_comparison_report(self.comparison, folder)
        except GenLoupeError as error:
            self.window.show_error(str(error))
            return []
        self.window.statusBar().showMessage(f"comparison report written: {', '.join(p.name for p in written)}", 10_000)
        return written

    def handle_drop(self, paths: list[str]) -> bool:
        """Several files, a folder of checkpoints or a comparison file (dropped or opened): True when handled here."""
        if len(paths) == 1 and is_comparison(paths[0]):
            self.open_comparison(paths[0])
            return True
        if len(paths) == 1 and is_checkpoint_folder(paths[0]):
            self.open_folder(paths[0])
            return True
        if len(paths) > 1:
            self.add_models(paths)
            return True
        return False


def view_rows(data: ComparisonData) -> tuple[list[ModelRow], list[Column], dict[str, RankingPair]]:
    """The comparison as the view's plain values."""
    keys = data.columns() or ["bpd"]
    columns = [Column(key, COLUMNS[key], BETTER[key]) for key in keys]
    rows = []
    for member in data.members:
        cells = {}
        for key in keys:
            cell = data.cell(member, key)
            cells[key] = (cell.value, cell.interval, cell.sizes)
        rows.append(ModelRow(member.name, cells, member.epoch, data.likelihood_kind(member)))
    rankings = {metric: RankingPair(list(r.by_likelihood), list(r.by_quality), r.tau, list(r.discordant))
                for metric, r in data.rankings.items()}
    return rows, columns, rankings


def notes_text(data: ComparisonData) -> str:
    """The lines under the table: bits/dim conventions, and for a noise sweep the likelihood lost against its bound."""
    lines = [f"bits/dim: {text}" for text in data.conventions()]
    if data.sweep:
        lines.append("noise mixture, held-out log-likelihood lost per image against the bound −ln(1−w): " + "; ".join(
            f"w={row.noise_weight:g}: {row.lost_nats:.2f} ≤ {row.bound_nats:.2f} nats" for row in data.sweep))
    return "\n".join(lines)


def show_trajectory(view: TrajectoryView, data: ComparisonData) -> None:
    path = data.trajectory
    if path is None:
        view.set_data([], [], [], [], note="no checkpoints with epochs yet: open a folder saved by "
                      "genloupe train --save-every, or files named with their steps")
        return
    likelihood = [Series(metric_name(key), path.values[key], path.intervals.get(key), "lower")
                  for key in ("bpd", "train_bpd") if key in path.values]
    quality = [Series(COLUMNS[key], path.values[key], path.intervals.get(key), QUALITY_METRICS[key])
               for key in TRAJECTORY_QUALITY if key in path.values]
    parting = sorted({epoch for key in TRAJECTORY_QUALITY if key in path.values
                      for epoch in path.parting(key, QUALITY_METRICS[key])})
    gap = path.values.get("bpd", [math.nan])[-1] - path.values.get("train_bpd", [math.nan])[-1]
    note = f"train/held-out gap at the last checkpoint: {gap:.3f} bits/dim" if math.isfinite(gap) else ""
    view.set_data(path.epochs, list(path.members), likelihood, quality, path.unit, parting, note, path.gap_opens())

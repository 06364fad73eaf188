"""The controller: runs engine tasks through the jobs bridge and keeps the Session, the one source of truth.

Views never talk to the engine. The controller opens a model and reference data in a worker,
evaluates, writes the result to a session file, reads it back and prepares what the views draw in
the same worker (app/view_data.py), then opens it in the GUI thread and tells the window
(``sessionLoaded``). Opening a saved session is a job too. The engine's heavy modules (torch) are
imported by the first job, so that the window paints before them. Flags go through the FlagEditor (undoable, committed before any view shows
them); the selection is one engine-side Selection whose observers are the views.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from genloupe.app.demo import scoring_companion
from genloupe.app.engine_loader import load_engine, with_collector_paused
from genloupe.app.feature_choice import feature_options
from genloupe.app.flag_bits import FlagBits
from genloupe.app.jobs import Jobs
from genloupe.app.settings import Settings, sessions_dir
from genloupe.app.view_data import PreparedViews, prepare_views
from genloupe.engine.errors import GenLoupeError, SessionError
from genloupe.engine.progress import TaskProgress
from genloupe.engine.session import FlagEditor, Selection, Session
from genloupe.engine.session.flags import FlagCommand
from genloupe.engine.session.suggestions import SuggestOptions, Suggestions, options_record, suggest_all, write_suggestions

SOURCE = "sample"  # flags and selection refer to generated samples
MAX_TRAINING_SEARCHED = 60_000  # training images searched for copies of samples (all of MNIST's, CIFAR-10's)


@dataclass
class SessionView:
    """What the views render, read from the session file in a worker (with its own read-only connection)."""

    samples: np.ndarray
    reference: np.ndarray
    levels: int
    sample_columns: dict[str, np.ndarray]
    reference_columns: dict[str, np.ndarray]
    metrics: dict[str, Any]
    run: dict[str, Any]
    sample_bits: np.ndarray | None
    training: np.ndarray | None  # the training images searched for copies of samples
    further_columns: dict[str, dict[str, np.ndarray]]  # more scored sets (the train split), by name
    read_only: bool = False
    notes: dict[int, str] = field(default_factory=dict)
    flags: FlagBits | None = None  # every sample's flags when the file was read
    prepared: PreparedViews | None = None  # the plots' arrays, ready to draw
    path: Path | None = None
    warning: str = ""  # said when the session is shown (e.g. opened read-only)


class Controller(QObject):
    samplesArrived = Signal(object, int)  # samples (N,C,H,W), levels: partial result, before metrics
    sessionLoaded = Signal(object)  # SessionView
    engineLoaded = Signal()  # torch and the engine are imported (the first job did it)
    flagsChanged = Signal(object)  # ids whose flags changed
    undoStateChanged = Signal()
    failed = Signal(str)  # one-line error for a dialog
    featuresChanged = Signal(str)  # the features spec the next evaluation uses
    warned = Signal(str)

    def __init__(self, jobs: Jobs, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.settings = jobs, settings
        self.model_address = ""
        self.reference_source = "digits"
        self.train_indices: str | None = None  # the images the model learnt from, when not GenLoupe's split
        self.features = settings.features_for(self.reference_source)  # remembered per reference
        self.device = "auto"
        self.trusted_addresses: set[str] = set()  # adapters the person agreed to run
        self.n_samples = 1000
        self.session: Session | None = None
        self.editor: FlagEditor | None = None
        self.view: SessionView | None = None
        self.flags = FlagBits(0)
        self._done_count = 0  # the editor's done stack length after its last change (tells undo from do)
        self.selection = Selection(SOURCE)
        self._engine_loaded = False
        jobs.partial.connect(self._on_partial)
        jobs.finished.connect(self._on_finished)
        jobs.failed.connect(self._on_failed)

    # -- evaluation ----------------------------------------------------------------------------------

    def open_model(self, address: str, *, trust_code: bool = False) -> None:
        """Evaluate the model at ``address`` against the current reference (a background job).

        ``trust_code`` is the person's consent to run an adapter's code; it holds for this address for
        the rest of the run (re-evaluations on a new reference or device keep it).
        """
        if trust_code:
            self.trusted_addresses.add(address)
        self.model_address = address
        self.evaluate()

    def set_reference(self, source: str) -> None:
        self.reference_source = source
        self.features = self.settings.features_for(source)
        self.featuresChanged.emit(self.features)
        if self.model_address:
            self.evaluate()

    def set_features(self, spec: str) -> None:
        """Features for the current reference; re-evaluates the open model (remembered once that succeeds)."""
        self.features = spec
        self.featuresChanged.emit(spec)
        if self.model_address:
            self.evaluate()

    def evaluate(self) -> None:
        address, source, train_indices = self.model_address, self.reference_source, self.train_indices
        trust_code = address in self.trusted_addresses
        n_samples, device = self.n_samples, self.device
        features, options = self.features, feature_options(self.features, self.settings)
        stem = Path(address.partition("#")[0]).stem
        path = sessions_dir() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.genloupe"

        def task(progress: TaskProgress) -> SessionView:
            load_engine()
            from genloupe.engine.checkpoints import content_hash, open_model
            from genloupe.engine.data import open_data, read_split, split_provenance
            from genloupe.engine.evaluation import EvaluationSettings, evaluate
            from genloupe.engine.results import write_session

            settings = EvaluationSettings(n_samples=n_samples, device=device, features=features, feature_options=options)
            model = open_model(address, trust_code=trust_code)
            companion = scoring_companion(address) if model.info.likelihood == "none" else None
            scorer = open_model(companion) if companion else None
            data = open_data(source)
            declared = read_split(train_indices, data) if train_indices else None
            splits = declared.indices if declared else None
            reference = data.split("test", declared=splits)
            training = data.split("train", declared=splits).images
            further = {"train": training[: settings.n_samples]}  # overfitting shows as a likelihood gap
            result = evaluate(model, reference, settings, scoring_model=scorer, further=further,
                              training=training[:MAX_TRAINING_SEARCHED], progress=progress)
            run = {"checkpoint": address, "checkpoint_hash": content_hash(address.partition("#")[0]),
                   "reference_source": source, "scored_with": companion, "training_split": split_provenance(declared)}
            progress.check()  # a cancelled job writes no session
            write_session(result, path, run).close()
            return read_session(path, verify_checkpoint=False)  # hashed a moment ago

        self.jobs.start("evaluate", with_collector_paused(task))  # the first imports the engine, data readers

    def cancel(self, kind: str) -> None:
        self.jobs.cancel(kind)

    def _on_partial(self, kind: str, value: object) -> None:
        if kind == "evaluate" and isinstance(value, tuple) and value[0] == "samples":
            self.samplesArrived.emit(value[1], value[2])

    def _on_failed(self, kind: str, message: str) -> None:
        if kind == "evaluate":  # the open session's model stays the current one, and so do the features that worked
            self.model_address = self.view.run.get("checkpoint", "") if self.view else ""
            self.features = self.settings.features_for(self.reference_source)
            self.featuresChanged.emit(self.features)
        self.failed.emit(message)

    def _on_finished(self, kind: str, result: object) -> None:
        if not self._engine_loaded and kind in ("evaluate", "engine"):
            self._engine_loaded = True
            self.engineLoaded.emit()
        if kind == "evaluate":
            self.settings.add_recent(self.model_address)  # only what opened: a broken file is not recalled
            self.settings.remember_features(self.reference_source, self.features)
        if kind in ("evaluate", "session"):
            self._show(result)

    def load_engine(self) -> None:
        """Import the engine in a worker now (when no evaluation does it first): device list, opening models."""
        if not self._engine_loaded and not self.jobs.is_running("evaluate"):
            self.jobs.start("engine", lambda progress: load_engine())

    # -- sessions -------------------------------------------------------------------------------------

    def open_session(self, path: str | Path) -> None:
        """Open a session file (a job): read-only with a warning when its checkpoint changed on disk."""
        self.jobs.start("session", with_collector_paused(lambda progress: read_session(path)))

    def _show(self, view: SessionView) -> None:
        """Make a session read in a worker the open one (in the GUI thread: a connection, no reading)."""
        try:
            session = Session.open(view.path, read_only=view.read_only)
        except GenLoupeError as error:
            self.failed.emit(str(error))
            return
        if self.session is not None:
            self.session.close()
        self.session, self.view, self.flags = session, view, view.flags
        self.model_address = view.run.get("checkpoint", self.model_address)
        self.editor = FlagEditor(session)
        self._done_count = 0
        self.editor.listeners.append(self._update_flag_bits)  # first: the views read the bits
        self.editor.listeners.append(lambda source, ids: self.flagsChanged.emit(ids))
        self.editor.listeners.append(lambda source, ids: self.undoStateChanged.emit())
        self.editor.listeners.append(self._reread_notes)
        self.selection.clear()
        self.sessionLoaded.emit(view)
        self.undoStateChanged.emit()
        if view.warning:
            self.warned.emit(view.warning)

    def _update_flag_bits(self, source: str, ids: np.ndarray) -> None:
        """Apply what the last command changed: before → after when done or redone, after → before when undone."""
        editor = self.editor
        undone = len(editor.done) < self._done_count
        self._done_count = len(editor.done)
        command = editor.undone[-1] if undone else editor.done[-1]
        if source == SOURCE and isinstance(command, FlagCommand):
            self.flags.change(*((command.after, command.before) if undone else (command.before, command.after)))

    def save_session_as(self, path: str | Path) -> None:
        if self.session is None:
            raise SessionError("nothing to save yet: open a model first")
        copy = self.session.save_as(path)
        if copy is self.session:  # saved onto itself: nothing to switch
            return
        self.session.close()
        self.session = copy
        self.editor = FlagEditor(copy, listeners=self.editor.listeners if self.editor else [])
        self.undoStateChanged.emit()

    # -- flags -------------------------------------------------------------------------------------------

    def flag_sets(self, ids: np.ndarray | None = None) -> dict[int, set[str]]:
        """{id: labels} of flagged samples (of ``ids`` if given) as the grid draws them: 'bad', suggested '?bad'."""
        if self.session is None:
            return {}
        wanted = np.flatnonzero(self.flags.flagged()) if ids is None else np.asarray(ids, dtype=np.int64)
        return {int(i): labels for i in wanted.tolist() if (labels := self.flags.labels(i))}

    def flag_reasons(self, idx: int) -> list[str]:
        """The one-line reasons a sample's flags carry (a suggestion's numbers and threshold)."""
        if self.session is None:
            return []
        return [f"{label}: {reason}" for _, label, _, reason, _, _ in self.session.flag_rows(SOURCE, [idx]) if reason]

    def flag(self, label: str, add: bool, ids: np.ndarray) -> None:
        """A flag key: add or remove ``label`` ('*' clears every label) on ``ids``."""
        editor = self._writable_editor()
        if editor is None:
            return
        try:
            if label == "*":
                editor.clear(SOURCE, ids)
            elif add:
                editor.add(SOURCE, ids, label)
            else:
                editor.remove(SOURCE, ids, label)
        except GenLoupeError as error:
            self.failed.emit(str(error))

    def confirm_suggestions(self, ids: np.ndarray) -> None:
        editor = self._writable_editor()
        if editor is not None:
            for label in ("bad", "memorized"):
                editor.confirm(SOURCE, ids, label)

    def set_note(self, idx: int, text: str) -> None:
        editor = self._writable_editor()
        if editor is not None and self.view is not None:
            editor.set_note(SOURCE, idx, text)

    def _reread_notes(self, source: str, ids: np.ndarray) -> None:
        """Keep the view's notes equal to the file after every note edit, undo and redo."""
        if self.session is None or self.view is None or source != SOURCE:
            return
        notes = self.session.notes(SOURCE)
        for idx in ids.tolist():
            if idx in notes:
                self.view.notes[idx] = notes[idx][0]
            else:
                self.view.notes.pop(idx, None)

    def suggest(self, options: SuggestOptions = SuggestOptions()) -> list[Suggestions]:
        """Write the calibrated suggestions as 'suggested' flags (one undoable step) and return them.

        Each label comes with the share of held-out real images it would flag (see engine/calibration.py).
        """
        editor, view = self._writable_editor(), self.view
        if editor is None or view is None:
            return []
        try:
            found = suggest_all(view.sample_columns, view.reference_columns, options)
        except GenLoupeError as error:
            self.failed.emit(str(error))
            return []
        write_suggestions(editor, found)
        editor.session.update_run(suggestions=options_record(options))
        return found

    def undo(self) -> None:
        if self.editor is not None and not self.editor.session.read_only:
            self.editor.undo()

    def redo(self) -> None:
        if self.editor is not None and not self.editor.session.read_only:
            self.editor.redo()

    def _writable_editor(self) -> FlagEditor | None:
        if self.editor is None:
            return None
        if self.editor.session.read_only:
            self.failed.emit("this session is read-only (its checkpoint changed); use File ▸ Save session as to edit a copy")
            return None
        return self.editor

    def close(self) -> None:
        self.jobs.cancel_all()
        self.jobs.wait(10_000)
        if self.session is not None:
            self.session.close()
            self.session = None


def read_session(path: str | Path, *, verify_checkpoint: bool = True) -> SessionView:
    """Everything the views show of a session file, with a read-only connection of its own (run in a worker)."""
    path = Path(path)
    with Session.open(path, read_only=True) as session:
        run = session.run
        read_only = verify_checkpoint and not _checkpoint_unchanged(run)
        view = _read_view(session)
        view.read_only, view.path = read_only, path
        view.flags = FlagBits(len(view.samples), session.flag_rows(SOURCE))
    if read_only:
        view.warning = (f"{path.name}: the checkpoint {run.get('checkpoint')} changed on disk since "
                        "this session was made; opened read-only")
    view.prepared = prepare_views(view)
    return view


def _checkpoint_unchanged(run: dict[str, Any]) -> bool:
    path = str(run.get("checkpoint", "")).partition("#")[0]
    if not path or not run.get("checkpoint_hash"):
        return True
    load_engine()  # the checkpoints package imports torch
    from genloupe.engine.checkpoints import content_hash

    try:
        return content_hash(path) == run["checkpoint_hash"]
    except (GenLoupeError, OSError):
        return False


def _read_view(session: Session) -> SessionView:
    samples, levels = session.read_images("sample")
    reference, _ = session.read_images("reference")
    sources = session.sources()
    return SessionView(
        samples=samples,
        reference=reference,
        levels=levels,
        sample_columns=session.read_columns("sample"),
        reference_columns=session.read_columns("reference"),
        metrics=session.read_metrics(),
        run=session.run,
        sample_bits=session.read_array("sample-bits"),
        training=session.read_images("training")[0] if "training" in sources else None,
        further_columns={source: session.read_columns(source) for source in sources
                         if source not in (SOURCE, "reference", "reference-nn", "training", "training-nn")},
        notes={idx: text for idx, (text, _) in session.notes(SOURCE).items()},
    )

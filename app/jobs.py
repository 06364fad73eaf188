"""The bridge between engine tasks and the GUI: a thread pool, one job per kind, stale results dropped.

An engine task is ``fn(progress) -> result``. It runs on a QThreadPool worker; progress, partial
results, the result and errors come back to the GUI thread through queued signals. Starting a job of
a kind that is already running cancels the old one; every job carries a generation number and the
GUI side ignores anything from an older generation.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from genloupe.engine.errors import Cancelled, GenLoupeError
from genloupe.engine.progress import TaskProgress

Task = Callable[[TaskProgress], Any]
PROGRESS_INTERVAL_S = 0.05


class _WorkerSignals(QObject):
    """Created in the GUI thread, emitted from workers: Qt queues the calls to the GUI thread."""

    progress = Signal(str, int, int, int, str)  # kind, generation, done, total, stage
    partial = Signal(str, int, object)
    finished = Signal(str, int, object)
    failed = Signal(str, int, str)
    cancelled = Signal(str, int)


class _Worker(QRunnable):
    def __init__(self, kind: str, generation: int, task: Task, signals: _WorkerSignals, progress: TaskProgress) -> None:
        super().__init__()
        self.kind, self.generation, self.task = kind, generation, task
        self.signals, self.progress = signals, progress

    def run(self) -> None:
        kind, gen, signals = self.kind, self.generation, self.signals
        try:
            result = self.task(self.progress)
        except Cancelled:
            signals.cancelled.emit(kind, gen)
        except GenLoupeError as error:
            signals.failed.emit(kind, gen, str(error))
        except Exception as error:  # an engine bug must not take the window down
            traceback.print_exc(file=sys.stderr)
            signals.failed.emit(kind, gen, f"unexpected {type(error).__name__}: {error}")
        else:
            if self.progress.is_cancelled():
                signals.cancelled.emit(kind, gen)
            else:
                signals.finished.emit(kind, gen, result)


@dataclass
class _Running:
    generation: int
    progress: TaskProgress


class Jobs(QObject):
    """Runs engine tasks off the GUI thread. Signals carry the job kind; stale generations are dropped."""

    started = Signal(str)
    progressed = Signal(str, int, int, str)  # kind, done, total, stage
    partial = Signal(str, object)
    finished = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)

    def __init__(self, parent: QObject | None = None, max_threads: int | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._signals = _WorkerSignals(self)
        self._signals.progress.connect(self._on_progress)
        self._signals.partial.connect(self._on_partial)
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._signals.cancelled.connect(self._on_cancelled)
        self._running: dict[str, _Running] = {}
        self._generation = 0

    def start(self, kind: str, task: Task) -> int:
        """Run ``task`` as the job of ``kind``, cancelling the one already running; returns its generation."""
        self.cancel(kind)
        self._generation += 1
        generation = self._generation
        progress = self._progress_for(kind, generation)
        self._running[kind] = _Running(generation, progress)
        self.started.emit(kind)
        self._pool.start(_Worker(kind, generation, task, self._signals, progress))
        return generation

    def cancel(self, kind: str) -> None:
        """Ask the job of ``kind`` to stop; it stops at its next progress check, its results are dropped."""
        running = self._running.pop(kind, None)
        if running is not None:
            running.progress.cancel()
            self.cancelled.emit(kind)

    def cancel_all(self) -> None:
        for kind in list(self._running):
            self.cancel(kind)

    def is_running(self, kind: str) -> bool:
        return kind in self._running

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker thread is idle (for shutdown and tests)."""
        return self._pool.waitForDone(timeout_ms)

    def _progress_for(self, kind: str, generation: int) -> TaskProgress:
        last = [0.0]
        signals = self._signals

        def on_update(done: int, total: int, stage: str) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < PROGRESS_INTERVAL_S:
                return  # throttle: at most one GUI update per interval
            last[0] = now
            signals.progress.emit(kind, generation, done, total, stage)

        return TaskProgress(on_update=on_update, on_partial=lambda result: signals.partial.emit(kind, generation, result))

    def _current(self, kind: str, generation: int) -> bool:
        running = self._running.get(kind)
        return running is not None and running.generation == generation

    def _on_progress(self, kind: str, generation: int, done: int, total: int, stage: str) -> None:
        if self._current(kind, generation):
            self.progressed.emit(kind, done, total, stage)

    def _on_partial(self, kind: str, generation: int, result: object) -> None:
        if self._current(kind, generation):
            self.partial.emit(kind, result)

    def _on_finished(self, kind: str, generation: int, result: object) -> None:
        if self._current(kind, generation):
            del self._running[kind]
            self.finished.emit(kind, result)

    def _on_failed(self, kind: str, generation: int, message: str) -> None:
        if self._current(kind, generation):
            del self._running[kind]
            self.failed.emit(kind, message)

    def _on_cancelled(self, kind: str, generation: int) -> None:
        if self._current(kind, generation):  # cancelled from inside the task
            del self._running[kind]
            self.cancelled.emit(kind)

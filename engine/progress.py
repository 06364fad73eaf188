"""The progress object every engine task takes: report, carry partial results, answer "cancelled?"."""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

from .errors import Cancelled


class Progress(Protocol):
    def update(self, done: int, total: int, stage: str = "") -> None: ...
    def partial(self, result: Any) -> None: ...
    def is_cancelled(self) -> bool: ...
    def check(self) -> None: ...


class TaskProgress:
    """Thread-safe progress with optional callbacks; cancel() may be called from any thread."""

    def __init__(
        self,
        on_update: Callable[[int, int, str], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
    ) -> None:
        self._on_update = on_update
        self._on_partial = on_partial
        self._cancel = threading.Event()

    def update(self, done: int, total: int, stage: str = "") -> None:
        if self._on_update is not None:
            self._on_update(done, total, stage)

    def partial(self, result: Any) -> None:
        if self._on_partial is not None:
            self._on_partial(result)

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested; call between batches."""
        if self._cancel.is_set():
            raise Cancelled("cancelled")


def null_progress() -> TaskProgress:
    """A progress object that reports nowhere and is never cancelled."""
    return TaskProgress()

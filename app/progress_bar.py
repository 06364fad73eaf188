"""A terminal progress bar on stderr for headless tasks."""

from __future__ import annotations

import sys
import time

from genloupe.engine.progress import TaskProgress


def terminal_progress(label: str = "", stream=None, min_interval: float = 0.1) -> TaskProgress:
    """A TaskProgress that draws ``stage [#####.....] done/total`` on stderr, throttled."""
    stream = stream or sys.stderr
    last = [0.0]

    def on_update(done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < min_interval:
            return
        last[0] = now
        width = 30
        filled = int(width * done / total) if total else width
        text = f"\r{label}{stage:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        stream.write(text + ("\n" if total and done >= total else ""))
        stream.flush()

    return TaskProgress(on_update=on_update)

"""A terminal progress bar on stderr for headless tasks: rate, time left, and a clean line before any error.

On a terminal one line per stage is redrawn in place (``\\r``), throttled; elsewhere (a log file, CI) each
stage writes one line when it ends, so logs hold no carriage-return noise. A line left open by a task
that failed is closed by :func:`end_line` before the error is printed (the CLI does this).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from genloupe.engine.progress import TaskProgress

WIDTH = 24
_open: list[TextIO] = []  # streams with a bar line drawn but not yet ended


def end_line() -> None:
    """End a bar line left open (a task stopped half-way), so the next message starts on its own line."""
    while _open:
        stream = _open.pop()
        stream.write("\n")
        stream.flush()


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def rate_text(per_second: float) -> str:
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k/s"
    return f"{per_second:.1f}/s" if per_second < 10 else f"{per_second:.0f}/s"


class _Bar:
    def __init__(self, label: str, stream: TextIO, min_interval: float, clock=time.monotonic) -> None:
        self.label, self.stream, self.min_interval, self.clock = label, stream, min_interval, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.name: str | None = None
        self.stage, self.start, self.last, self.width = "", 0.0, 0.0, 0

    def update(self, done: int, total: int, stage: str) -> None:
        """``stage`` is 'name · details': the name starts a new line, the details (a running loss) redraw in it."""
        now = self.clock()
        name = stage.split(" · ")[0]
        if name != self.name:
            if self.name is not None and self.tty:
                end_line()
            self.name, self.start, self.last, self.width = name, now, 0.0, 0
        self.stage = stage
        finished = total > 0 and done >= total
        if not finished and (not self.tty or now - self.last < self.min_interval):
            return
        self.last = now
        text = self.text(done, total, now - self.start)
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
            if self.stream not in _open:
                _open.append(self.stream)
            if finished:
                end_line()
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        if finished:
            self.name = None  # a stage that ends and starts again (a second 'likelihood' pass) draws anew

    def text(self, done: int, total: int, elapsed: float) -> str:
        filled = int(WIDTH * done / total) if total else WIDTH
        rate = done / elapsed if elapsed > 0 else 0.0
        if total and done >= total:
            timing = f"{duration(elapsed)}" + (f", {rate_text(rate)}" if rate else "")
        elif rate > 0:
            timing = f"{rate_text(rate)}, {duration((total - done) / rate)} left"
        else:
            timing = "…"
        return f"{self.label}{self.stage:<16} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} ({timing})"


def terminal_progress(label: str = "", stream: TextIO | None = None, min_interval: float = 0.1,
                      clock=time.monotonic) -> TaskProgress:
    """A TaskProgress that draws ``stage [#####.....] done/total (rate, time left)`` on stderr."""
    bar = _Bar(label, stream or sys.stderr, min_interval, clock)
    return TaskProgress(on_update=bar.update)

"""Where a user's code failed: the file and line to name in a one-line error.

An adapter's model runs inside GenLoupe's loops; an exception from it would otherwise surface as a
traceback through engine code. These helpers find the innermost frame that belongs to the user (a
file in the adapter's folder, else any file outside GenLoupe, torch and the standard library) and
say it as ``made.py line 41``.
"""

from __future__ import annotations

import sys
import sysconfig
import traceback
from pathlib import Path
from types import FrameType, TracebackType

from .safety import one_line

_GENLOUPE = Path(__file__).resolve().parents[1]  # the engine package
_LIBRARIES = tuple({Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "purelib", "platlib")})


def _is_library(file: Path) -> bool:
    return file.is_relative_to(_GENLOUPE) or any(file.is_relative_to(root) for root in _LIBRARIES)


def _where(frames: list[tuple[str, int]], folder: Path | None) -> str:
    """``name.py line N`` of the innermost frame in ``folder``, else outside the libraries; '' if none."""
    resolved = [(Path(name).resolve(), line) for name, line in frames if not name.startswith("<")]
    mine = [(f, line) for f, line in resolved if folder is not None and f.is_relative_to(folder)]
    user = mine or [(f, line) for f, line in resolved if not _is_library(f)]
    if not user:
        return ""
    file, line = user[-1]
    return f"{file.name} line {line}"


def error_location(error: BaseException, folder: Path | None = None) -> str:
    """Where ``error`` was raised in user code (see the module docstring); '' when nowhere."""
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return f"{Path(error.filename).name} line {error.lineno}"
    tb: TracebackType | None = error.__traceback__
    return _where([(f.filename, f.lineno or 0) for f in traceback.extract_tb(tb)], folder)


def caller_location() -> str:
    """Where the current call came from in user code ('' when from GenLoupe or libraries alone)."""
    frame: FrameType | None = sys._getframe(1)
    frames = []
    while frame is not None:
        frames.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    return _where(frames[::-1], None)


def describe_failure(error: BaseException, what: str, folder: Path | None = None) -> str:
    """``what raised TypeError at vae.py line 12: message`` — one line."""
    where = error_location(error, folder)
    return f"{what} raised {type(error).__name__}{f' at {where}' if where else ''}: {one_line(error)}"

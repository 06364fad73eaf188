"""Messages built from untrusted content stay one short line, whatever the content holds."""

from __future__ import annotations

import reprlib
from typing import Any

LIMIT = 200

_short = reprlib.Repr()
_short.maxlevel, _short.maxlist, _short.maxdict, _short.maxtuple = 2, 4, 4, 4
_short.maxstring, _short.maxother, _short.maxlong = 60, 60, 40


def one_line(error: BaseException | str, limit: int = LIMIT) -> str:
    """An exception's (or a text's) message squeezed onto one line and shortened to ``limit`` characters."""
    text = error if isinstance(error, str) else str(error)
    text = " ".join(text.split()) or ("" if isinstance(error, str) else type(error).__name__)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A bounded repr: a list of 10^12 shared references prints in microseconds."""
    try:
        return _short.repr(value)
    except Exception:  # a hostile __repr__ cannot reach here from plain data, but never let a message fail
        return type(value).__name__

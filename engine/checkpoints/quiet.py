"""Silence torch's own loaders while they run: their warnings and logged tracebacks span many lines,
and GenLoupe reports every failure as one line of its own."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator

LOGGERS = ("torch.export", "torch._export", "torch.fx", "torch._dynamo", "torch.jit")


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

"""Importing the engine (torch among it) off the GUI thread, so that the window paints first.

torch's import holds the interpreter lock through the loading of its shared libraries (a 250 ms
stall of the GUI thread on this project's machines, even when a worker does the import). ctypes
releases the lock while it loads a library, so the libraries are loaded through it first; the
import that follows finds them in memory.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# The torch library that pulls in the others (libtorch, libtorch_cpu, libc10 ...) as its dependencies.
_TORCH_LIBRARY = "libtorch_python.so"


def preload_torch_libraries() -> None:
    """Load torch's shared libraries with the interpreter lock released (Linux; elsewhere a no-op)."""
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    library = Path(spec.submodule_search_locations[0]) / "lib" / _TORCH_LIBRARY
    if library.is_file():
        try:
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
        except OSError:
            return  # the import below loads it the ordinary way


_loading = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a job's block with the garbage collector off, and freeze what it imported.

    The first evaluation imports torch, scikit-learn, readers and extractors in its worker; a full
    collection there held the interpreter lock for 130-900 ms while the window waited. Modules live as
    long as the program, so once a block imported any, everything alive is moved out of later full passes.
    """
    modules = len(sys.modules)
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > modules:
            gc.freeze()
        if enabled:
            gc.enable()


def with_collector_paused(task: Callable[[Any], T]) -> Callable[[Any], T]:
    """A job's task run inside :func:`collector_paused`."""

    @wraps(task)
    def run(progress: Any) -> T:
        with collector_paused():
            return task(progress)

    return run


def load_engine() -> None:
    """Import what evaluating and opening models needs (call from a worker; idempotent)."""
    with _loading, collector_paused():
        if "genloupe.engine.results" in sys.modules:
            return
        preload_torch_libraries()
        import genloupe.engine.checkpoints  # noqa: F401
        import genloupe.engine.evaluation  # noqa: F401
        import genloupe.engine.results  # noqa: F401

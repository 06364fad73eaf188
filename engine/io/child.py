"""Programs that run at open time run in a child process with a wall clock and a memory limit.

A .pt2 graph or an ONNX model can loop 10^18 times or allocate gigabytes when it is first run;
:func:`run_limited` runs such a call in a child (forked, so a probe costs a fork, not a fresh torch
import), caps the memory the child may add with ``setrlimit`` and kills it when the clock runs out. Every outcome comes
back as a value or as one line of the error class the caller asks for.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import re
import sys
import warnings
from typing import Any

from .. import errors
from ..errors import GenLoupeError
from .limits import limits
from .text import one_line

_CONTEXT: Any = None
OUT_OF_MEMORY = re.compile(r"can't allocate memory|[Ff]ailed to allocate memory|bad_alloc|out of memory")


def _context(preload: str) -> Any:
    """How children start: forked on Linux (the parent's imports come free, as for torch's DataLoader workers,
    which run torch after a fork in the same way), from a fork server preloaded with ``preload``'s module on
    other Unixes (macOS frameworks do not survive a fork), spawned on Windows."""
    global _CONTEXT
    if _CONTEXT is None:
        if sys.platform == "linux":
            _CONTEXT = multiprocessing.get_context("fork")
        elif "forkserver" in multiprocessing.get_all_start_methods():
            _CONTEXT = multiprocessing.get_context("forkserver")
            _CONTEXT.set_forkserver_preload([preload])
        else:
            _CONTEXT = multiprocessing.get_context("spawn")
    return _CONTEXT


def _limit_memory(budget: int) -> None:
    """Let this process grow by at most ``budget`` bytes of data (RLIMIT_DATA on Linux, else RLIMIT_AS)."""
    try:
        import resource
    except ImportError:  # Windows: the wall clock still applies
        return
    field, kind = ("VmData", resource.RLIMIT_DATA) if sys.platform == "linux" else ("VmSize", resource.RLIMIT_AS)
    used = 0
    try:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration, ValueError):
        if sys.platform == "linux":
            return
    soft, hard = resource.getrlimit(kind)
    wanted = used + budget
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(kind, (wanted, hard))


def _child(target: str, args: tuple, budget: int, pipe: Any) -> None:
    """Run ``module:function(*args)`` under the memory budget and send back ('ok', value) or an error."""
    try:
        _silence_output()
        module, _, name = target.partition(":")
        function = getattr(importlib.import_module(module), name)
        _limit_memory(budget)
        outcome: tuple = ("ok", function(*args))
    except MemoryError:
        outcome = ("memory",)
    except BaseException as error:  # anything a program does wrong is reported, never raised here
        text = " ".join(str(error).split())
        # torch and onnxruntime report a refused allocation in their own words, often wrapped by a probe
        if any(isinstance(link, MemoryError) or OUT_OF_MEMORY.search(str(link)) for link in _chain(error)):
            outcome = ("memory",)
        elif isinstance(error, GenLoupeError):
            outcome = ("error", type(error).__name__, one_line(text))
        else:
            outcome = ("error", "", f"{type(error).__name__}: {one_line(text)}")
    try:
        pipe.send(outcome)
    finally:
        pipe.close()


def _chain(error: BaseException) -> list[BaseException]:
    """An error and those it was raised from or during (a wrapper's short message can hide the cause)."""
    links = [error]
    while len(links) < 8 and (links[-1].__cause__ or links[-1].__context__) is not None:
        links.append(links[-1].__cause__ or links[-1].__context__)
    return links


def _silence_output() -> None:
    """What the program or its runtime prints (onnxruntime logs errors in colour) is not GenLoupe's one line."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def run_limited(target: str, args: tuple, what: str, error: type[GenLoupeError] = GenLoupeError) -> Any:
    """The value of ``module:function(*args)`` run in a limited child; a limit hit is one line of ``error``."""
    caps = limits()
    context = _context(target.partition(":")[0])
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, args, caps.child_memory, send), daemon=True)
    with warnings.catch_warnings():  # Python 3.12+ warns about forking a threaded process; the child only
        warnings.simplefilter("ignore", DeprecationWarning)  # runs the call and exits
        process.start()
    send.close()
    try:
        ready = receive.poll(caps.child_seconds)
        outcome = receive.recv() if ready else None
    except (EOFError, OSError):
        outcome = ("died",)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    if outcome is None:
        raise error(f"{what}: still running after {caps.child_seconds:g} s when first run; refused "
                    "(a program that loops without end?)")
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "memory":
        raise error(f"{what}: needs more than {caps.child_memory >> 20} MiB when first run; refused")
    if outcome[0] == "died":
        raise error(f"{what}: the process running it died (exit code {process.exitcode}); refused")
    kind = getattr(errors, outcome[1], None) if outcome[1] else None
    kind = kind if isinstance(kind, type) and issubclass(kind, GenLoupeError) else error
    raise kind(outcome[2])

"""Python adapters: a user's .py file defining ``load(path) -> model`` for research code GenLoupe
cannot read any other way. Importing it runs its code, so it opens only when trusted
(``trust_code=True``, CLI ``--trust-code``; the window asks per file and remembers its content hash).

``load`` receives the adapter's own path, so it can find its weights beside it. Exporting what it
returns (``genloupe export adapter.py --trust-code --out bundle``) gives a bundle that opens
without trust.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, GenLoupeError, UnsafeFileError
from .safety import one_line


def is_adapter(path: Path, head: bytes) -> bool:
    return path.suffix == ".py" or (path.suffix == "" and head.startswith(b"#!") and b"python" in head.split(b"\n")[0])


def load_adapter(path: Path, trust_code: bool) -> Any:
    if not trust_code:
        raise UnsafeFileError(f"{path.name} is a Python adapter: opening it runs its code; "
                              "open it with --trust-code (trust_code=True) only if you trust it")
    name = "genloupe_adapter_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CheckpointError(f"{path.name}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # research code imports its siblings
    try:
        spec.loader.exec_module(module)
        load = getattr(module, "load", None)
        if not callable(load):
            raise CheckpointError(f"{path.name}: an adapter must define load(path) -> model")
        return load(path)
    except GenLoupeError:
        raise
    except (Exception, SystemExit) as error:  # the user's code may raise anything, sys.exit included
        raise CheckpointError(f"{path.name}: the adapter raised {type(error).__name__}: {one_line(error)}") from None
    finally:
        sys.path.remove(folder)

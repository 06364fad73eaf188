"""Python adapters: a user's .py file defining ``load(path) -> model`` for research code GenLoupe
cannot read any other way. Importing it runs its code, so it opens only when trusted
(``trust_code=True``, CLI ``--trust-code``; the window asks per file and remembers its content hash).

``load`` receives the adapter's own path (a ``pathlib.Path``), so it can find its weights beside it.
What it returns is wrapped in an :class:`AdapterModel`, which holds the contract on GenLoupe's side:

- ``log_prob`` is called with ``generator=`` and ``k=`` only when its signature accepts them; a bound
  model without ``k`` keeps its own K, which its ``ModelInfo.bound_k`` must then declare;
- any exception from the user's code becomes one line naming the user's file and line.

The adapter may list the files its model loads, so that its content hash (trust memory, the check for
changed checkpoints, provenance) covers them: ``GENLOUPE_FILES = ["made.pt"]`` (paths relative to the
adapter, read without running the file). Without the list the hash covers the adapter's whole folder.
Exporting what it returns (``genloupe export adapter.py --trust-code --out bundle``) gives a bundle that
opens without trust.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, GenLoupeError, ModelError, UnsafeFileError
from ..models.base import ModelInfo
from .user_code import describe_failure

FILES_NAME = "GENLOUPE_FILES"


def is_adapter(path: Path, head: bytes) -> bool:
    return path.suffix == ".py" or (path.suffix == "" and head.startswith(b"#!") and b"python" in head.split(b"\n")[0])


def declared_files(path: Path) -> list[Path] | None:
    """The files an adapter says it loads (``GENLOUPE_FILES``), read from its source without running it.

    None when it declares none; CheckpointError when the declaration is not a list of plain strings
    naming existing files.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=path.name)
    except (SyntaxError, ValueError):
        return None  # opening it will report the syntax error with its line
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == FILES_NAME for t in targets) and node.value is not None:
            try:
                names = ast.literal_eval(node.value)
            except ValueError:
                names = None
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise CheckpointError(f"{path.name}: {FILES_NAME} must be a list of file names (strings) "
                                      f"relative to the adapter, line {node.lineno}")
            files = [(path.parent / name) for name in names]
            missing = [name for name, file in zip(names, files) if not file.is_file()]
            if missing:
                raise CheckpointError(f"{path.name}: {FILES_NAME} names {missing[0]!r}, which is not a file "
                                      f"beside the adapter")
            return files
    return None


def _accepts(method: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: pass nothing extra
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class AdapterModel(nn.Module):
    """The model an adapter's ``load`` returned, called the way its signatures allow."""

    def __init__(self, model: Any, path: Path) -> None:
        super().__init__()
        self.user = model  # a submodule when it is an nn.Module: .to() and export follow it
        self.path = path
        self.folder = path.resolve().parent
        self.parameter_count = (sum(p.numel() for p in model.parameters()) if isinstance(model, nn.Module) else None)
        info = self._call("info", lambda: getattr(model, "info", None))
        if not isinstance(info, ModelInfo) or not callable(getattr(model, "sample", None)) \
                or not callable(getattr(model, "log_prob", None)):
            raise ModelError(f"{path.name}: load() returned {type(model).__name__}, which is not a GenLoupe model: it "
                             "needs info (a ModelInfo from genloupe.engine.models.base), sample(n, generator) and "
                             "log_prob(y); see the README's 'Bring your own model'")
        self.info = info
        log_prob = model.log_prob
        self.takes_generator, self.takes_k = _accepts(log_prob, "generator"), _accepts(log_prob, "k")
        if info.likelihood == "lower_bound" and not self.takes_k and info.bound_k is None:
            raise ModelError(f"{path.name}: a bound model's log_prob must accept k (the number of draws, IWAE-K), "
                             "or its ModelInfo must declare bound_k, the K it always uses: "
                             "def log_prob(self, y, generator=None, k=None)")
        self.config = getattr(model, "config", None)

    @property
    def device(self) -> torch.device:
        device = getattr(self.user, "device", None)
        if isinstance(device, torch.device):
            return device
        parameter = next(iter(self.user.parameters()), None) if isinstance(self.user, nn.Module) else None
        return parameter.device if parameter is not None else torch.device("cpu")

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except GenLoupeError:
            raise
        except Exception as error:  # the user's code may raise anything: one line naming where
            raise ModelError(f"{self.path.name}: " + describe_failure(error, what, self.folder)) from None

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._call("sample", lambda: self.user.sample(n, generator))

    def log_prob(self, y: torch.Tensor, generator: torch.Generator | None = None, k: int | None = None) -> torch.Tensor:
        options: dict[str, Any] = {}
        if generator is not None and self.takes_generator:
            options["generator"] = generator
        if k is not None and self.takes_k:
            options["k"] = k
        elif k is not None and k != self.info.bound_k:
            raise ModelError(f"{self.path.name}: log_prob takes no k, so its bound keeps K={self.info.bound_k} "
                             f"(ModelInfo.bound_k), not K={k}; accept it: def log_prob(self, y, generator=None, k=None)")
        return self._call("log_prob", lambda: self.user.log_prob(y, **options))

    def log_prob_per_dim(self, y: torch.Tensor) -> torch.Tensor:
        return self._call("log_prob_per_dim", lambda: self.user.log_prob_per_dim(y))

    def heads(self) -> list[str]:
        heads = getattr(self.user, "heads", None)
        return self._call("heads", heads) if callable(heads) else []

    def head(self, name: str) -> "AdapterModel":
        return AdapterModel(self._call("head", lambda: self.user.head(name)), self.path)


def load_adapter(path: Path, trust_code: bool) -> AdapterModel:
    if not trust_code:
        raise UnsafeFileError(f"{path.name} is a Python adapter: opening it runs its code; "
                              "open it with --trust-code (trust_code=True) only if you trust it")
    name = "genloupe_adapter_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CheckpointError(f"{path.name}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = path.resolve().parent
    sys.path.insert(0, str(folder))  # research code imports its siblings
    try:
        spec.loader.exec_module(module)
        load = getattr(module, "load", None)
        if not callable(load):
            raise CheckpointError(f"{path.name}: an adapter must define load(path) -> model")
        model = load(path)
    except GenLoupeError:
        raise
    except (Exception, SystemExit) as error:  # the user's code may raise anything, sys.exit included
        raise CheckpointError(f"{path.name}: " + describe_failure(error, "the adapter", folder)) from None
    finally:
        sys.path.remove(str(folder))
    return AdapterModel(model, path)


"""torch.export bundles: a folder or .zip holding meta.json, sample.pt2 and log_prob.pt2.

``sample.pt2`` maps explicit noise to images in the model's space and ``log_prob.pt2`` maps images in
the model's space (and, for stochastic estimators, their noise) to one log-density per image;
``meta.json`` (:mod:`.bundle_meta`) says what they mean. Programs may take any batch (a dynamic
first dimension) or a fixed one, which the loader pads up to.

:func:`export_bundle` writes a bundle of any model whose sampler draws with torch.randn/torch.rand:
zoo families, their heads, or a research model returned by a trusted adapter. Random draws become
noise inputs (:mod:`.noise`), programs have a fixed batch (so code using ``len(x)`` exports), and
the written bundle is opened and compared with the model before the export counts as done.
Stochastic likelihood estimators (the VAE head's IWAE) export with their K fixed, noise included.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from ..errors import CheckpointError, GenLoupeError
from ..versions import versions
from .adapter import AdapterModel
from .bundle_meta import BundleMeta, Transform
from .checked import LoadedModel, checked_model, parameter_count, probe_inputs
from .noise import NoiseSpec, Replay, draw_noise, record_noise
from .probes import probe_model
from .programs import ProgramModel
from .pt2_check import check_pt2
from .quiet import quiet_torch
from .safety import one_line, open_zip, parse_json, read_file, read_member

FILES = ("meta.json", "sample.pt2", "log_prob.pt2")
DEFAULT_BATCH = 64
AGREEMENT = 1e-4  # nats (log_prob) and [0, 1] units (samples) between a model and its bundle


class ExportedRunner:
    """A loaded program as a :class:`~.programs.Program`."""

    def __init__(self, program: ExportedProgram, batch: int | None) -> None:
        self.program = program
        self.batch = batch
        self.module = program.module()

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(*inputs)

    def moved(self, device: torch.device) -> "ExportedRunner":
        from torch.export.passes import move_to_device_pass

        return ExportedRunner(move_to_device_pass(self.program, device), self.batch)


# --- reading --------------------------------------------------------------------------------


def is_bundle_dir(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in FILES)


def bundle_prefix(names: list[str]) -> str | None:
    """Where a zip keeps its bundle: at the root, or in one top folder (a zipped bundle folder)."""
    for name in names:
        if name.rsplit("/", 1)[-1] in FILES and name.count("/") <= 1:
            return name[: len(name) - len(name.rsplit("/", 1)[-1])]
    return None


def _bundle_files(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if path.is_dir():
        for name in FILES:
            file = path / name
            if file.is_symlink() or (file.exists() and not file.is_file()):
                raise CheckpointError(f"{path.name}/{name} is a link or not a plain file; a bundle folder holds its "
                                      "own files")
            if file.is_file():
                files[name] = read_file(file, f"{path.name}/{name}")
    else:
        archive = open_zip(path, path.name)
        prefix = bundle_prefix(archive.namelist()) or ""
        for name in FILES:
            if prefix + name in archive.namelist():
                files[name] = read_member(archive, prefix + name, path.name)
    if "meta.json" not in files:
        raise CheckpointError(f"{path.name}: export bundle has no meta.json (a bundle holds meta.json, sample.pt2 "
                              "and log_prob.pt2; see the README)")
    return files


def _load_program(data: bytes, what: str, depth: int) -> ExportedProgram:
    check_pt2(data, what, depth)
    try:
        with quiet_torch():
            return torch.export.load(io.BytesIO(data))
    except Exception as error:  # torch raises many kinds on a malformed graph
        raise CheckpointError(f"{what}: cannot load the program ({type(error).__name__}: {one_line(error)})") from None


def _shape_text(shape: tuple) -> str:
    """(N, 1, 8, 8): symbolic sizes (a dynamic batch) read N."""
    return "(" + ", ".join(str(s) if isinstance(s, int) else "N" for s in shape) + ")"


def _check_signature(program: ExportedProgram, inputs: list[tuple[tuple[int, ...], int]], what: str) -> int | None:
    """Compare the program's inputs with the shapes meta.json declares; return its static batch or None."""
    names = [spec.arg.name for spec in program.graph_signature.input_specs if spec.kind == InputKind.USER_INPUT]
    values = {node.name: node.meta.get("val") for node in program.graph.nodes if node.op == "placeholder"}
    if len(names) != len(inputs):
        raise CheckpointError(f"{what}: meta.json declares {len(inputs)} inputs but the program takes {len(names)}")
    outputs = len(program.graph_signature.user_outputs)
    if outputs != 1:
        raise CheckpointError(f"{what}: the program must return one tensor, it returns {outputs}")
    batches = set()
    for i, (name, (shape, batch_dim)) in enumerate(zip(names, inputs)):
        actual = tuple(getattr(values.get(name), "shape", ()))
        rest = actual[:batch_dim] + actual[batch_dim + 1 :]
        if len(actual) != len(shape) + 1 or any(isinstance(a, int) and a != s for a, s in zip(rest, shape)):
            raise CheckpointError(f"{what}: input {i} has shape {_shape_text(actual)} but meta.json declares "
                                  f"{_shape_text(shape[:batch_dim] + ('N',) + shape[batch_dim:])}")
        batches.add(actual[batch_dim] if isinstance(actual[batch_dim], int) else None)
    if len(batches) > 1:
        raise CheckpointError(f"{what}: inputs disagree on the batch size ({', '.join(map(str, batches))})")
    return batches.pop() if batches else None


def load_bundle(path: Path) -> ProgramModel:
    """The protocol model of an export bundle, after every check of meta.json and the programs."""
    files = _bundle_files(path)
    meta = BundleMeta.parse(parse_json(files["meta.json"], f"{path.name}: meta.json"), f"{path.name}: meta.json")
    runners = {}
    roles = {
        "sample": [(s.shape, s.batch_dim) for s in meta.sample_noise],
        "log_prob": [(meta.data_shape, 0)] + [(s.shape, s.batch_dim) for s in meta.log_prob_noise],
    }
    for role, inputs in roles.items():
        if role == "log_prob" and meta.likelihood == "none":
            continue
        what = f"{path.name}: {role}.pt2"
        if f"{role}.pt2" not in files:
            raise CheckpointError(f"{what} is missing (meta.json says likelihood {meta.likelihood!r})")
        program = _load_program(files[f"{role}.pt2"], what, depth=0 if path.is_dir() else 1)
        runners[role] = ExportedRunner(program, _check_signature(program, inputs, what))
    count = max(sum(p.numel() for p in runner.program.parameters()) for runner in runners.values())
    return ProgramModel(meta, runners["sample"], runners.get("log_prob"), parameter_count=count,
                        format_name="export bundle")


# --- writing --------------------------------------------------------------------------------


class _SampleGraph(nn.Module):
    """model.sample as a function of its noise (replayed in place of its random draws)."""

    def __init__(self, model: nn.Module, batch: int) -> None:
        super().__init__()
        self.model, self.batch = model, batch

    def forward(self, *noise: torch.Tensor) -> torch.Tensor:
        with Replay(noise):
            return self.model.sample(self.batch, None)


class _LogProbGraph(nn.Module):
    """model.log_prob as a function of the images and of its estimator's noise."""

    def __init__(self, model: nn.Module, options: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.options = model, options

    def forward(self, y: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        with Replay(noise):
            return self.model.log_prob(y, None, **self.options)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    log_prob_difference: float | None  # largest |difference| on probe images, nats (None: no likelihood)
    sample_difference: float  # largest |difference| of samples for one seed
    warnings: list[str]  # what the probes found legitimate but worth saying (as on open)


def _example_noise(specs: list[NoiseSpec], batch: int) -> list[torch.Tensor]:
    return draw_noise(specs, batch, torch.Generator().manual_seed(1), torch.device("cpu"))


def _export(graph: nn.Module, args: tuple, what: str) -> ExportedProgram:
    try:
        with quiet_torch():
            return torch.export.export(graph, args)
    except GenLoupeError:
        raise
    except Exception as error:
        raise CheckpointError(f"torch.export failed on {what} ({type(error).__name__}: {one_line(error)})") from None


def write_bundle(out: str | Path, meta: BundleMeta, sample: ExportedProgram,
                 log_prob: ExportedProgram | None = None) -> Path:
    """Save programs and meta.json as a folder, or as a .zip when ``out`` ends in .zip."""
    out = Path(out)
    files = {"meta.json": json.dumps(meta.to_dict(), indent=2).encode()}
    for name, program in (("sample.pt2", sample), ("log_prob.pt2", log_prob)):
        if program is not None:
            buffer = io.BytesIO()
            torch.export.save(program, buffer)
            files[name] = buffer.getvalue()
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    else:
        out.mkdir(parents=True, exist_ok=True)
        (out / "log_prob.pt2").unlink(missing_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    return out


def export_bundle(model: Any, out: str | Path, *, batch: int = DEFAULT_BATCH, k: int | None = None) -> ExportResult:
    """Export a protocol model that is an ``nn.Module`` to a bundle at ``out`` (folder or .zip).

    ``batch`` is the programs' fixed batch; ``k`` the number of draws of a bound estimator (default:
    the model's own K). Raises CheckpointError if the model cannot be exported or if the written
    bundle disagrees with it by more than 1e-4 on probe images.
    """
    model = model.model if isinstance(model, LoadedModel) else model
    if isinstance(model, AdapterModel) and not isinstance(model.user, nn.Module):
        raise CheckpointError(f"{model.path.name}: load() returned {type(model.user).__name__}, not a torch module "
                              "(nn.Module), so torch.export cannot export it")
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"{type(model).__name__} is not a torch module, so torch.export cannot export it")
    info = model.info
    if k is not None and info.likelihood != "lower_bound":
        raise CheckpointError(f"{info.name}: --k applies to bound estimators only; "
                              f"its likelihood is {info.likelihood!r}")
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()
    model.eval()
    # NaN weights, wrong shapes or wrong conventions: a clear error now, not a bundle that carries them
    warnings = probe_model(checked_model(model, {}), info.name)
    options = {"k": k or info.bound_k} if info.likelihood == "lower_bound" and (k or info.bound_k) else {}
    with torch.no_grad():
        sample_noise = record_noise(lambda n, g: model.sample(n, g), batch)
        sample = _export(_SampleGraph(model, batch), tuple(_example_noise(sample_noise, batch)), f"{info.name}: sample")
        log_prob, log_prob_noise = None, []
        if info.likelihood != "none":
            y = probe_inputs(info, batch, torch.Generator().manual_seed(2), torch.device("cpu"))
            log_prob_noise = record_noise(lambda n, g: model.log_prob(y[:n], g, **options), batch)
            log_prob = _export(_LogProbGraph(model, options), (y, *_example_noise(log_prob_noise, batch)),
                               f"{info.name}: log_prob")
    meta = BundleMeta(
        name=info.name, family=info.family, data_shape=tuple(info.data_shape), levels=info.levels,
        discrete=info.discrete, likelihood=info.likelihood, sample_noise=tuple(sample_noise),
        log_prob_noise=tuple(log_prob_noise), estimator=info.estimator, bound_k=options.get("k"), transform=Transform(),
        source={"config": getattr(model, "config", None), "parameters": parameter_count(model), **versions()},
    )
    path = write_bundle(out, meta, sample, log_prob)
    return _verify(model, path, options, warnings)


def _verify(model: nn.Module, path: Path, options: dict[str, Any], warnings: list[str]) -> ExportResult:
    """Open the written bundle and compare it with the model: same samples and log_prob for one seed."""
    bundle = load_bundle(path)
    info = model.info
    n = 8
    with torch.no_grad():
        sample_difference = float((bundle.sample(n, torch.Generator().manual_seed(3))
                                   - model.sample(n, torch.Generator().manual_seed(3))).abs().max())
        log_prob_difference = None
        if info.likelihood != "none":
            y = probe_inputs(info, n, torch.Generator().manual_seed(4), torch.device("cpu"))
            ours = bundle.log_prob(y, torch.Generator().manual_seed(5), **options)
            theirs = model.log_prob(y, torch.Generator().manual_seed(5), **options)
            log_prob_difference = float((ours - theirs).abs().max())
    if not (sample_difference <= AGREEMENT and (log_prob_difference or 0.0) <= AGREEMENT):
        raise CheckpointError(f"{path.name}: the bundle disagrees with the model (samples by {sample_difference:.3g}, "
                              f"log_prob by {log_prob_difference} nats)")
    return ExportResult(path, log_prob_difference, sample_difference, warnings)

"""``genloupe info`` and ``genloupe export``: a corpus of bad files, each refused in one line with
status 2 (none of them runs its code), and good files described.

Most of the corpus goes through the CLI's ``main`` in-process (one torch import for all); a handful
goes through real subprocesses, started together, to show the installed command behaves the same.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.export import export

from genloupe.app import cli
from genloupe.engine.checkpoints import open_model
from genloupe.engine.checkpoints.zoo import save_checkpoint
from tests.engine.test_checkpoints_roundtrip import tiny_model
from tests.engine.test_checkpoints_support import (
    ScriptedGaussian,
    TinyGaussian,
    scripted_meta,
    write_onnx_generator,
    write_readme_bundle,
    write_torchscript,
)


# --- payloads that would run code ---------------------------------------------------------------


class WritesMarker:
    """Unpickling this writes a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


def rewrite_zip(source: Path, target: Path, change) -> Path:
    """Copy a zip member by member; ``change(name, data)`` returns new bytes (or the same)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, change(info.filename, old.read(info.filename)))
    return target


def inject_expression(name: str, data: bytes, marker: Path) -> bytes:
    """Put Python into the graph's first symbolic shape expression (torch.export.load sympifies it)."""
    if not name.endswith("models/model.json"):
        return data
    graph = json.loads(data)
    stack = [graph]
    while stack:
        item = stack.pop()
        if isinstance(item, dict) and "expr_str" in item:
            item["expr_str"] = f"__import__('os').system('touch {marker}') or {item['expr_str']}"
            return json.dumps(graph).encode()
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else [])
    raise AssertionError("the program has no symbolic shape to inject into")


def call_torch_load(name: str, data: bytes) -> bytes:
    if not name.endswith("models/model.json"):
        return data
    graph = json.loads(data)
    graph["graph_module"]["graph"]["nodes"][0]["target"] = "torch.load"
    return json.dumps(graph).encode()


# --- small programs that misbehave ----------------------------------------------------------------


class PerPixel(nn.Module):
    def forward(self, x):
        return x.flatten(1)  # (N, 64) instead of (N,)


class NaNDensity(nn.Module):
    def forward(self, x):
        return x.flatten(1).sum(1) * float("nan")


class SmallImages(nn.Module):
    def forward(self, eps):
        return torch.sigmoid(eps)[:, :, :4, :4]  # 4x4 images where meta.json says 8x8


class ScriptedWrongShape(ScriptedGaussian):
    @torch.jit.export
    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        return eps.flatten(1)


class ScriptedWriter(ScriptedGaussian):
    """TorchScript that writes a file of its choosing when sampled (aten::save)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    @torch.jit.export
    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        torch.save(eps, self.marker)
        return torch.sigmoid(eps)


def save_program(module: nn.Module, path: Path) -> None:
    torch.export.save(export(module, (torch.rand(2, 1, 8, 8),)), path)


def zoo_dict(**changes) -> dict:
    """A GenLoupe checkpoint as the zoo writes it (diagonal Gaussian on 1x8x8, 17 levels)."""
    state = {"mean": torch.full((1, 8, 8), 0.5), "log_std": torch.full((1, 8, 8), -1.0)}
    base = {"format": "genloupe-zoo", "version": 1, "family": "gaussian",
            "config": {"data_shape": [1, 8, 8], "levels": 17}, "state_dict": state, "levels": 17,
            "data_shape": [1, 8, 8], "train_info": {}}
    return {**base, **changes}


def build_corpus(root: Path) -> dict[str, list[str]]:
    """Every bad file, as the CLI arguments that open it. Markers land in root/markers."""
    markers = root / "markers"
    markers.mkdir()
    files: dict[str, list[str]] = {}

    def add(name: str, path: Path, *extra: str) -> None:
        files[name] = [str(path), *extra]

    rng = np.random.default_rng(0)
    good = write_readme_bundle(root / "good_bundle")

    (root / "empty.pt").write_bytes(b"")
    add("empty file", root / "empty.pt")
    (root / "random.pt").write_bytes(rng.bytes(4096))
    add("random bytes (.pt)", root / "random.pt")
    (root / "random").write_bytes(rng.bytes(4096))
    add("random bytes (no extension)", root / "random")
    (root / "model.onnx").write_bytes(rng.bytes(4096))
    add("random bytes (.onnx)", root / "model.onnx")
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "picture.png")
    (root / "picture.png").rename(root / "image.pt")
    add("PNG image named .pt", root / "image.pt")
    (root / "config.safetensors").write_text(json.dumps({"not": "tensors"}))
    add("JSON named .safetensors", root / "config.safetensors")

    torch.save({"mean": torch.zeros(3)}, root / "whole.pt")
    data = (root / "whole.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    add("truncated torch zip", root / "truncated.pt")
    torch.save({"mean": torch.zeros(300)}, root / "legacy.pt", _use_new_zipfile_serialization=False)
    data = (root / "legacy.pt").read_bytes()
    (root / "truncated_legacy.pt").write_bytes(data[: len(data) // 2])
    add("truncated legacy torch pickle", root / "truncated_legacy.pt")
    torch.save({"weights": WritesMarker(markers / "torch_pickle")}, root / "evil.pt")
    add("torch pickle whose __reduce__ writes a file", root / "evil.pt")
    (root / "evil.pkl").write_bytes(pickle.dumps(WritesMarker(markers / "raw_pickle"), protocol=2))
    add("raw pickle whose __reduce__ writes a file", root / "evil.pkl")
    torch.save(nn.Linear(2, 2), root / "module.pt")
    add("pickled nn.Module", root / "module.pt")
    torch.save(TinyGaussian().state_dict(), root / "state.pt")
    add("bare state dict", root / "state.pt")

    wrong = zoo_dict(state_dict={"mean": torch.zeros(1, 4, 4), "log_std": torch.zeros(1, 4, 4)})
    torch.save(wrong, root / "wrong_shapes.pt")
    add("zoo checkpoint with wrong shapes", root / "wrong_shapes.pt")
    torch.save(zoo_dict(state_dict={"mean": torch.full((1, 8, 8), float("nan")), "log_std": torch.zeros(1, 8, 8)}),
               root / "nan.pt")
    add("zoo checkpoint with NaN weights", root / "nan.pt")
    torch.save(zoo_dict(family="nonesuch"), root / "unknown_family.pt")
    add("zoo checkpoint of an unknown family", root / "unknown_family.pt")
    torch.save(zoo_dict(), root / "zoo.pt")
    add("zoo checkpoint with a head it lacks", Path(f"{root / 'zoo.pt'}#gan"))

    (root / "huge_header.safetensors").write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    add("safetensors header declaring 2^60 bytes", root / "huge_header.safetensors")
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 8]}}).encode()
    (root / "absurd.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    add("safetensors declaring an absurd shape", root / "absurd.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(root / "bare.safetensors"))
    add("safetensors without GenLoupe metadata", root / "bare.safetensors")

    def bundle(name: str, meta: dict | None = None, drop: tuple[str, ...] = (), **programs: nn.Module) -> Path:
        folder = root / name
        folder.mkdir()
        for file in ("sample.pt2", "log_prob.pt2", "meta.json"):
            if file not in drop:
                (folder / file).write_bytes((good / file).read_bytes())
        for role, module in programs.items():
            save_program(module, folder / f"{role}.pt2")
        if meta is not None:
            (folder / "meta.json").write_text(json.dumps({**json.loads((good / "meta.json").read_text()), **meta}))
        return folder

    add("bundle without meta.json", bundle("no_meta", drop=("meta.json",)))
    add("bundle without log_prob.pt2", bundle("no_log_prob", drop=("log_prob.pt2",)))
    (bundle("bad_json") / "meta.json").write_text("{'format': genloupe")
    add("bundle with meta.json that is not JSON", root / "bad_json")
    add("bundle whose meta contradicts the graph", bundle("contradicts", {"data_shape": [1, 4, 4],
        "sample_noise": [{"distribution": "normal", "shape": [1, 4, 4], "batch_dim": 0}]}))
    add("bundle declaring absurd shapes", bundle("absurd", {"data_shape": [1, 100000, 100000]}))
    add("bundle declaring absurd noise", bundle("absurd_noise", {"sample_noise": [
        {"distribution": "normal", "shape": [1 << 30, 1 << 30], "batch_dim": 0}]}))
    add("bundle whose log_prob returns (N, 64)", bundle("per_pixel", log_prob=PerPixel()))
    add("bundle whose log_prob returns NaN", bundle("nan_density", log_prob=NaNDensity()))
    add("bundle whose sampler returns the wrong shape", bundle("small_images", sample=SmallImages()))
    evil_expr = bundle("evil_expression")
    rewrite_zip(good / "log_prob.pt2", evil_expr / "log_prob.pt2",
                lambda name, data: inject_expression(name, data, markers / "sympify"))
    add("bundle whose shape expression runs Python", evil_expr)
    evil_inputs = bundle("evil_inputs")
    payload = io.BytesIO()
    torch.save({"args": WritesMarker(markers / "example_inputs")}, payload)
    rewrite_zip(good / "log_prob.pt2", evil_inputs / "log_prob.pt2",
                lambda name, data: payload.getvalue() if name.endswith("sample_inputs/model.pt") else data)
    add("bundle whose example inputs are a code pickle", evil_inputs)
    torch_load = bundle("calls_torch_load")
    rewrite_zip(good / "log_prob.pt2", torch_load / "log_prob.pt2", call_torch_load)
    add("bundle whose graph calls torch.load", torch_load)
    with zipfile.ZipFile(root / "escape.zip", "w") as archive:
        for file in ("meta.json", "sample.pt2", "log_prob.pt2"):
            archive.write(good / file, file)
        archive.writestr("../outside.txt", "written outside the folder")
    add("bundle zip with a ../ member", root / "escape.zip")
    with zipfile.ZipFile(root / "crowded.zip", "w") as archive:
        archive.write(good / "meta.json", "meta.json")
        for i in range(5000):
            archive.writestr(f"filler/{i}", b"")
    add("bundle zip with 5000 members", root / "crowded.zip")
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(good / "meta.json", "meta.json")
        archive.writestr("sample.pt2", bytes(20 << 20))
    add("bundle zip with a 1000-fold compressed member", root / "bomb.zip")

    add("TorchScript archive without GenLoupe metadata", write_torchscript(root / "no_meta_script.pt"), "--trust-code")
    add("TorchScript archive whose sampler returns the wrong shape",
        write_torchscript(root / "wrong_script.pt", ScriptedWrongShape(), scripted_meta()), "--trust-code")
    add("TorchScript archive that writes a file, without --trust-code",
        write_torchscript(root / "writer_script.pt", ScriptedWriter(str(markers / "torchscript")), scripted_meta()))
    write_onnx_generator(root / "float.onnx", uint8=False)
    add("ONNX generator with float images and no declared range", root / "float.onnx")

    np.savez(root / "mismatched.npz", samples=np.zeros((10, 1, 8, 8), np.uint8), log_prob=np.zeros(9),
             log_prob_convention=json.dumps({"unit": "nats", "space": "discrete"}))
    add("npz with mismatched lengths", root / "mismatched.npz")
    np.savez(root / "no_convention.npz", samples=np.zeros((10, 1, 8, 8), np.uint8), log_prob=np.zeros(10))
    add("npz with log_prob but no convention", root / "no_convention.npz")
    np.savez(root / "objects.npz", samples=np.array([None, {"a": 1}], dtype=object))
    add("npz holding pickled objects", root / "objects.npz")
    np.savez(root / "float_range.npz", samples=np.full((4, 1, 8, 8), 1.5, np.float32))
    add("npz with float samples outside [0, 1]", root / "float_range.npz")
    np.savez(root / "lying.npz", samples=np.zeros((2, 1, 8, 8), np.uint8))
    with zipfile.ZipFile(root / "lying.npz") as archive:
        stored = archive.read("samples.npy")
    lie = stored.replace(b"(2, 1, 8, 8)", b"(2000000000, 1, 8, 8)")
    with zipfile.ZipFile(root / "lying.npz", "w") as archive:
        archive.writestr("samples.npy", lie)
    add("npz whose header declares 2e9 images", root / "lying.npz")

    (root / "raises.py").write_text("def load(path):\n    raise RuntimeError('no weights next to ' + str(path))\n")
    add("adapter that raises", root / "raises.py", "--trust-code")
    (root / "untrusted.py").write_text(f"open({str(markers / 'adapter')!r}, 'w').write('code ran')\n"
                                       "def load(path):\n    return None\n")
    add("adapter without --trust-code", root / "untrusted.py")
    (root / "not_a_model.py").write_text("def load(path):\n    return {'weights': [1, 2, 3]}\n")
    add("adapter returning something that is not a model", root / "not_a_model.py", "--trust-code")
    (root / "no_load.py").write_text("x = 1\n")
    add("adapter without load()", root / "no_load.py", "--trust-code")

    broken = root / "broken_images"
    broken.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(broken / "a.png")
    (broken / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(100))
    add("image folder with a corrupt image", broken)
    (root / "empty_folder").mkdir()
    add("empty folder", root / "empty_folder")
    add("path that does not exist", root / "missing.pt")
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("bad")
    return root, build_corpus(root)


CORPUS_NAMES = [
    "empty file", "random bytes (.pt)", "random bytes (no extension)", "random bytes (.onnx)", "PNG image named .pt",
    "JSON named .safetensors", "truncated torch zip", "truncated legacy torch pickle",
    "torch pickle whose __reduce__ writes a file", "raw pickle whose __reduce__ writes a file", "pickled nn.Module",
    "bare state dict", "zoo checkpoint with wrong shapes", "zoo checkpoint with NaN weights",
    "zoo checkpoint of an unknown family", "zoo checkpoint with a head it lacks",
    "safetensors header declaring 2^60 bytes", "safetensors declaring an absurd shape",
    "safetensors without GenLoupe metadata", "bundle without meta.json", "bundle without log_prob.pt2",
    "bundle with meta.json that is not JSON", "bundle whose meta contradicts the graph", "bundle declaring absurd shapes",
    "bundle declaring absurd noise", "bundle whose log_prob returns (N, 64)", "bundle whose log_prob returns NaN",
    "bundle whose sampler returns the wrong shape", "bundle whose shape expression runs Python",
    "bundle whose example inputs are a code pickle", "bundle whose graph calls torch.load",
    "bundle zip with a ../ member", "bundle zip with 5000 members", "bundle zip with a 1000-fold compressed member",
    "TorchScript archive without GenLoupe metadata", "TorchScript archive whose sampler returns the wrong shape",
    "TorchScript archive that writes a file, without --trust-code",
    "ONNX generator with float images and no declared range", "npz with mismatched lengths",
    "npz with log_prob but no convention", "npz holding pickled objects", "npz with float samples outside [0, 1]",
    "npz whose header declares 2e9 images", "adapter that raises", "adapter without --trust-code",
    "adapter returning something that is not a model", "adapter without load()", "image folder with a corrupt image",
    "empty folder", "path that does not exist",
]
SUBPROCESS_NAMES = ["torch pickle whose __reduce__ writes a file", "bundle whose shape expression runs Python",
                    "adapter without --trust-code"]


def test_corpus_is_complete(corpus):
    assert sorted(corpus[1]) == sorted(CORPUS_NAMES) and len(CORPUS_NAMES) >= 25


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_bad_file_gives_one_line_and_status_2(corpus, name, capsys):
    root, files = corpus
    status = cli.main(["info", *files[name]])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured.out
    assert len(lines) == 1 and lines[0].startswith("genloupe info: error: "), captured.err
    assert captured.out == ""
    assert not any((root / "markers").iterdir()), "a bad file ran code"


def test_bad_files_through_real_subprocesses(corpus):
    root, files = corpus
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    runs = [subprocess.Popen([sys.executable, "-m", "genloupe.app", "info", *files[name]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env) for name in SUBPROCESS_NAMES]
    for name, run in zip(SUBPROCESS_NAMES, runs):
        out, err = run.communicate(timeout=120)
        assert run.returncode == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and "error" in err, (name, err)
    assert not any((root / "markers").iterdir()), "a bad file ran code"


def test_the_refused_payloads_are_live(corpus, tmp_path):
    """The controls: opened the unsafe way, the same files do run code (so the markers prove something)."""
    root, files = corpus
    torch.load(files["torch pickle whose __reduce__ writes a file"][0], weights_only=False)
    assert (root / "markers" / "torch_pickle").exists()
    (root / "markers" / "torch_pickle").unlink()
    try:
        torch.export.load(Path(files["bundle whose shape expression runs Python"][0]) / "log_prob.pt2")
    except Exception:
        pass
    assert (root / "markers" / "sympify").exists()
    (root / "markers" / "sympify").unlink()
    open_model(files["TorchScript archive that writes a file, without --trust-code"][0], trust_code=True).sample(1)
    assert (root / "markers" / "torchscript").exists()
    (root / "markers" / "torchscript").unlink()


def test_messages_name_the_problem(corpus, capsys):
    _, files = corpus
    expected = {
        "torch pickle whose __reduce__ writes a file": "--trust-code",
        "bundle whose shape expression runs Python": "not allowed",
        "bundle whose meta contradicts the graph": "meta.json",
        "bundle whose log_prob returns NaN": "NaN",
        "bundle zip with a ../ member": "outside",
        "npz with mismatched lengths": "9",
        "adapter without --trust-code": "--trust-code",
        "TorchScript archive that writes a file, without --trust-code": "--trust-code",
        "TorchScript archive without GenLoupe metadata": "genloupe_meta.json",
        "bundle declaring absurd shapes": "100000",
    }
    for name, phrase in expected.items():
        cli.main(["info", *files[name]])
        assert phrase in capsys.readouterr().err, name


# --- good files ---------------------------------------------------------------------------------------


def test_info_describes_a_bundle_as_text_and_json(tmp_path, capsys):
    bundle = write_readme_bundle(tmp_path / "tiny")
    assert cli.main(["info", str(bundle)]) == 0
    text = capsys.readouterr().out
    assert "torch.export bundle" in text and "1x8x8" in text and "17 levels" in text and "exact" in text
    assert cli.main(["info", str(bundle), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "torch.export bundle"
    assert summary["data_shape"] == [1, 8, 8] and summary["levels"] == 17
    assert summary["parameters"] == 128 and summary["content_hash"].startswith("sha256:")


def test_info_lists_the_heads_of_the_hybrid_and_opens_each(tmp_path, capsys):
    save_checkpoint(tiny_model("vaegan"), tmp_path / "hybrid.safetensors")
    assert cli.main(["info", str(tmp_path / "hybrid.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "GenLoupe checkpoint (.safetensors)" in text and "vae, gan" in text and "lower bound (IWAE-" in text
    assert cli.main(["info", f"{tmp_path / 'hybrid.safetensors'}#gan", "--json"]) == 0
    gan = json.loads(capsys.readouterr().out)
    assert gan["likelihood"] == "none" and gan["head"] == "gan"


def test_export_writes_a_bundle_that_info_opens(tmp_path, capsys):
    save_checkpoint(tiny_model("flow"), tmp_path / "flow.pt")
    assert cli.main(["export", str(tmp_path / "flow.pt"), "--out", str(tmp_path / "flow.zip")]) == 0
    assert "reopened and checked" in capsys.readouterr().out
    assert cli.main(["info", str(tmp_path / "flow.zip"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "torch.export bundle" and summary["family"] == "flow"
    assert cli.main(["export", str(tmp_path / "flow.pt"), "--out", str(tmp_path / "x"), "--k", "8"]) == 2
    assert "bound estimators only" in capsys.readouterr().err


def test_a_tiny_checkpoint_cannot_make_genloupe_allocate_gigabytes(tmp_path):
    """The config is checked against the file's weights on torch's meta device, before anything is built."""
    import resource

    from safetensors.torch import save_file

    config = {"components": 4, "covariance": "full", "data_shape": [1, 1, 65536], "levels": 17}
    header = {"format": "genloupe-zoo", "version": 1, "family": "mixture", "config": config, "levels": 17,
              "data_shape": [1, 1, 65536], "train_info": {}}
    path = tmp_path / "bomb.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"genloupe": json.dumps(header)})  # a few hundred bytes
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run = subprocess.run([sys.executable, "-m", "genloupe.app", "info", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "its config implies 68721573904 bytes of weights" in run.stderr
    peak_mib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    assert peak_mib < 1500  # a full build would ask for about 68 GB
